#!/usr/bin/env bash
# MoE vs dense as MM1 compares them (MM1 §3.3): validation loss at equal steps and at equal active parameters, in one
# plot. Tiny text-only Llamas (byte-level tokenizer) on a real corpus; fetches nothing.
#
#   scripts/moe-vs-dense.sh [OUT_DIR]
#
# 1. base          dense Llama (d=D, L layers, FFN width FFN), BASE_STEPS steps from scratch
# 2. dense         base continued for STEPS steps (pretrain --init)                        \ equal steps
# 3. moe           base upcycled (E experts copied from each FFN, top-2, balance 0.01,     /
#                  z 0.001: mm1 upcycle) and continued for STEPS steps
# 4. dense-active  dense Llama with the MoE's active parameters per token (FFN width 2·FFN: two experts of width FFN
#                  run per token), BASE_STEPS + STEPS steps from scratch                   ← equal active params
# Every MoE layer: --every 1. All runs: the same data, seed, batch, context and peak LR; a continued run restarts
# warm-up + cosine over its STEPS. Then `mm1 compare-runs` draws valLoss of all four (continued runs shifted by
# BASE_STEPS) into OUT_DIR/moe-vs-dense.png and prints the final values.
# Settings from the environment: D HEADS L FFN E BASE_STEPS STEPS BATCH SEQ LR WARMUP EVAL_INTERVAL EVAL_BATCHES SEED
# TEXT (default ../shared/data/text/tinystories_sample.txt).
set -euo pipefail
OUT=${1:-/tmp/moe-vs-dense}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${D:-64} HEADS=${HEADS:-4} L=${L:-2} FFN=${FFN:-176} E=${E:-4} BASE_STEPS=${BASE_STEPS:-200} STEPS=${STEPS:-200}
BATCH=${BATCH:-8} SEQ=${SEQ:-128} LR=${LR:-3e-3} WARMUP=${WARMUP:-20} EVAL_INTERVAL=${EVAL_INTERVAL:-20}
EVAL_BATCHES=${EVAL_BATCHES:-8} SEED=${SEED:-0}
TEXT=${TEXT:-$ROOT/../shared/data/text/tinystories_sample.txt}
[ -f "$TEXT" ] || { echo "no corpus at $TEXT (set TEXT=FILE)" >&2; exit 1; }
TEXT=$(cd "$(dirname "$TEXT")" && pwd)/$(basename "$TEXT")
MM1="$ROOT/mm1"
mkdir -p "$OUT"
uptime | tee "$OUT/uptime-start.txt"

common=(--seed "$SEED"
  --set "data.sources=[{\"name\":\"text\",\"format\":\"text\",\"path\":\"$TEXT\",\"weight\":1}]"
  --set model.vision=false --set model.connector=false --set model.preset=tiny-test
  --set "model.llm.hidden_size=$D" --set "model.llm.num_attention_heads=$HEADS" --set "model.llm.num_hidden_layers=$L"
  --set "data.seq_len=$SEQ" --set "train.batch_size=$BATCH" --set "optim.lr=$LR" --set "optim.warmup_steps=$WARMUP"
  --set "train.eval_interval=$EVAL_INTERVAL" --set "train.eval_batches=$EVAL_BATCHES"
  --set train.checkpoint_interval=0 --overwrite)

echo "== 1. base: dense, $BASE_STEPS steps"
"$MM1" pretrain --out "$OUT/base" "${common[@]}" --steps "$BASE_STEPS" --set tokenizer=bytes \
  --set "model.llm.intermediate_size=$FFN"
TOK="$OUT/base/model/tokenizer.json"

echo "== 2. dense: base + $STEPS steps"
"$MM1" pretrain --out "$OUT/dense" "${common[@]}" --steps "$STEPS" --init "$OUT/base/model" --set "tokenizer=$TOK" \
  --set "model.llm.intermediate_size=$FFN"

echo "== 3. moe: base upcycled to $E experts (top-2) + $STEPS steps"
"$MM1" upcycle --model "$OUT/base/model" --experts "$E" --every 1 --out "$OUT/moe-init" --overwrite --seed "$SEED"
"$MM1" pretrain --out "$OUT/moe" "${common[@]}" --steps "$STEPS" --init "$OUT/moe-init" --set "tokenizer=$TOK" \
  --set "model.llm.intermediate_size=$FFN"

echo "== 4. dense-active: FFN width $((2 * FFN)) (the MoE's active parameters), $((BASE_STEPS + STEPS)) steps"
"$MM1" pretrain --out "$OUT/dense-active" "${common[@]}" --steps "$((BASE_STEPS + STEPS))" --set "tokenizer=$TOK" \
  --set "model.llm.intermediate_size=$((2 * FFN))"

for r in dense moe dense-active; do
  echo "$r: $("$MM1" info --config "$OUT/$r/model/config.json" | grep -E '^  (total|active) ' | tr -s ' ' | tr '\n' ' ')"
done | tee "$OUT/params.txt"
"$MM1" compare-runs --runs "$OUT/base,$OUT/dense,$OUT/moe,$OUT/dense-active" \
  --labels "dense base,dense (equal steps),MoE upcycled (equal steps),dense 2x FFN (equal active params)" \
  --offsets "0,$BASE_STEPS,$BASE_STEPS,0" --metric valLoss --out "$OUT/moe-vs-dense.png" --overwrite \
  | tee "$OUT/final.txt"
uptime | tee "$OUT/uptime-end.txt"
