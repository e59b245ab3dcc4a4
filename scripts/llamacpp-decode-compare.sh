#!/usr/bin/env bash
# Decode speed of mm1j beside llama.cpp on the same random d512 Llama, F32 and 8-bit, at the same minutes.
# usage: scripts/llamacpp-decode-compare.sh LLAMA_CPP_DIR [THREADS] [ROUNDS]
#   LLAMA_CPP_DIR: a llama.cpp checkout built with its tools (build/bin/llama-bench, build/bin/llama-quantize) and
#   its gguf-py folder; the GGUF writer also needs numpy (its sentencepiece import is not used here).
# mm1j runs on the `java` first on PATH (e.g. PATH=/usr/lib/jvm/temurin-25-jdk-amd64/bin:$PATH for JDK 25) with
# MM1_JAVA_OPTS if set; llama-bench prints the mean ± sd of its 5 runs.
set -euo pipefail
ll="${1:?usage: $0 LLAMA_CPP_DIR [THREADS] [ROUNDS]}"
threads="${2:-2}"
rounds="${3:-3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
PYTHONPATH="$ll/gguf-py${PYTHONPATH:+:$PYTHONPATH}" python3 "$here/scripts/random_llama_gguf.py" "$work/f32.gguf"
"$ll/build/bin/llama-quantize" "$work/f32.gguf" "$work/q8.gguf" Q8_0 >/dev/null 2>&1
echo "uptime: $(uptime)"
for r in $(seq "$rounds"); do
  for q in none int8; do
    MM1_THREADS="$threads" "$here/mm1" bench decode --quantize "$q" --no-djl --rounds 5 --json 2>/dev/null \
      | python3 -c "import json,sys; o=json.load(sys.stdin); print('mm1j', '$q', round(o['tokensPerSecond'], 1), 'tokens/s (median of 5; best', round(o['bestTokensPerSecond'], 1), ')')"
  done
  "$ll/build/bin/llama-bench" -m "$work/f32.gguf" -m "$work/q8.gguf" -p 0 -n 128 -t "$threads" -r 5 2>/dev/null \
    | grep tg128 | awk -F'|' '{print "llama.cpp", $2, $8, "tokens/s"}'
done
echo "uptime: $(uptime)"
