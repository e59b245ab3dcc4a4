#!/usr/bin/env bash
# device-check.sh — one short run (under 5 minutes after the first build) of mm1j's benchmarks on cuda:0:
#   gemm TFLOP/s, LLM train-step MFU, KV-cache decode tokens/s and vision-encoder images/s.
# Uses the CUDA build (mvn -Pcuda through MM1_CUDA=1 ./mm1; the first build downloads the 2.4 GB CUDA libtorch).
# On a machine without an NVIDIA GPU it prints why and exits 0.
#
# usage: scripts/device-check.sh [OUT.jsonl]   (default: device-check.jsonl; one JSON report per line)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-device-check.jsonl}"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1 \
    || [ -z "$(nvidia-smi -L 2>/dev/null)" ]; then
  echo "device-check: no NVIDIA GPU here (nvidia-smi finds none); skipping."
  exit 0
fi
nvidia-smi -L | sed -n 1p

export MM1_CUDA=1
# build first (untimed): later calls reuse target-cuda/mm1j.jar
"$here/mm1" --version >/dev/null

: > "$out"
bench() { # NAME TIMEOUT_S ARGS…: one benchmark on cuda:0, its JSON report appended to $out as one line
  local name="$1" limit="$2"
  shift 2
  local json
  if ! json="$(timeout "$limit" "$here/mm1" bench "$name" --device cuda:0 --json "$@")"; then
    echo "device-check: bench $name failed or ran past ${limit}s" >&2
    return 1
  fi
  printf '%s\n' "$json" | tr -d '\n' >> "$out"
  printf '\n' >> "$out"
  printf '%s\n' "$json"
}
field() { # FILE-LINE KEY: a number from one JSON line
  sed -n "$1p" "$out" | grep -o "\"$2\" *: *[-0-9.eE]*" | sed 's/.*: *//'
}

status=0
bench gemm 60 --n 8192 --reps 10 >/dev/null || status=1
bench train-step 120 --preset ablation-1.2b --layers 4 --batch 4 --seq 1024 --steps 5 >/dev/null || status=1
bench decode 60 --shape hidden=2048,intermediate=5632,layers=8,heads=16,kvHeads=16,vocab=32000 --tokens 128 \
  >/dev/null || status=1
bench vision 60 --preset mm1-3b --batch 16 --reps 5 >/dev/null || status=1

echo "device-check: reports in $out"
[ "$(wc -l < "$out")" -ge 1 ] && echo "  gemm GFLOP/s (FP32):       $(field 1 gflops)"
[ "$(wc -l < "$out")" -ge 2 ] && echo "  train-step MFU (vs gemm):  $(field 2 mfu)  tokens/s $(field 2 tokensPerSecond)"
[ "$(wc -l < "$out")" -ge 3 ] && echo "  decode tokens/s:           $(field 3 tokensPerSecond)"
[ "$(wc -l < "$out")" -ge 4 ] && echo "  vision images/s:           $(field 4 imagesPerSecond)"
exit "$status"
