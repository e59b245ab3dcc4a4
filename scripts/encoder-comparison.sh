#!/usr/bin/env bash
# The README's "Encoder pre-training" measurement: a CLIP and an AIM encoder pre-trained with `mm1 clip` on the
# synthetic world, then each (and a random one) frozen under a short `mm1 pretrain --preset mini`, compared on
# 0-shot caption CIDEr-D (eval/cider@0 in each run's metrics.jsonl). Usage: scripts/encoder-comparison.sh [OUT] [SEED]
set -euo pipefail
out="${1:-runs/encoders}"
seed="${2:-0}"
enc='{"width":64,"layers":2,"heads":2,"mlpDim":256}'
common=(--set "model.vision=$enc" --set optim.lr=1e-3 --set optim.warmup_steps=30 --set train.batch_size=64
        --set train.eval_interval=50 --set train.eval_pairs=200 --set train.checkpoint_interval=100)
[ -d "$out/clip/encoder" ] || ./mm1 clip --preset mini --data synthetic --steps 250 --out "$out/clip" "${common[@]}"
[ -d "$out/aim/encoder" ] || ./mm1 clip --objective aim --preset mini --data synthetic --steps 250 --out "$out/aim" "${common[@]}"
for name in random aim clip; do
  vision="$enc"
  [ "$name" != random ] && vision="{\"init\":\"$out/$name/encoder\"}"
  ./mm1 pretrain --preset mini --data synthetic --steps 200 --seed "$seed" --out "$out/pretrain-$name-seed$seed" \
    --set "model.vision=$vision" --set 'train.freeze=["vision"]' --set data.seq_len=128 --set train.batch_size=8 \
    --set optim.warmup_steps=20 --set train.eval_interval=100 --set train.eval_batches=2 \
    --set train.checkpoint_interval=0 --set train.fewshot_interval=200 --set train.fewshot_items=100 \
    --set 'train.fewshot_shots=[0]' --set 'tokenizer={"train":{"vocab_size":1024}}'
done
for name in random aim clip; do
  printf '%-7s ' "$name"; grep '"eval/cider@0"' "$out/pretrain-$name-seed$seed/metrics.jsonl" | tail -1 \
    | sed -E 's/.*"eval\/cider@0":([0-9.eE-]+).*/CIDEr-D@0 \1/'
done
