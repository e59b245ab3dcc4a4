#!/usr/bin/env bash
# Text baseline: mm1j's byte-level Llama (`mm1 pretrain`) against karpathy/nanoGPT's char-level Shakespeare trainer,
# same corpus, split, model size, context, batch, steps and optimizer settings. Fetches nothing.
#
#   scripts/compare-nanogpt.sh NANOGPT_DIR [OUT_DIR]
#
# NANOGPT_DIR: a checkout of https://github.com/karpathy/nanoGPT (train.py, model.py, configurator.py, config/).
# Needs python3 with torch + numpy (Debian: apt-get install python3-torch python3-numpy; install libopenblas0-pthread
# too, or Debian's torch runs on the reference BLAS at < 1 GFLOPS) and a built mm1j (mvn -B -o -DskipTests package).
# Settings come from the environment (defaults = docs/text-baseline.md): LAYERS HEADS EMBD BLOCK BATCH STEPS WARMUP
# LR EVAL_INTERVAL EVAL_ITERS (nanoGPT: random windows per eval) EVAL_BATCHES (mm1j: packed batches from the start of
# the validation split) TEXT (the corpus) PY (python) THREADS (per side; default 1: with 2 OpenMP threads on a
# loaded machine mm1j's libtorch backward thrashes). Both sides run at once; their val losses land in OUT_DIR.
set -euo pipefail
NANOGPT=$(cd "${1:?usage: $0 NANOGPT_DIR [OUT_DIR]}" && pwd)
OUT=${2:-/tmp/compare-nanogpt}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAYERS=${LAYERS:-4} HEADS=${HEADS:-4} EMBD=${EMBD:-128} BLOCK=${BLOCK:-64} BATCH=${BATCH:-8} STEPS=${STEPS:-300}
WARMUP=${WARMUP:-30} LR=${LR:-1e-3} BETA2=${BETA2:-0.99} EVAL_INTERVAL=${EVAL_INTERVAL:-100}
EVAL_ITERS=${EVAL_ITERS:-100} EVAL_BATCHES=${EVAL_BATCHES:-100}
THREADS=${THREADS:-1} TEXT=${TEXT:-$ROOT/../shared/data/text/tinyshakespeare.txt} PY=${PY:-/usr/bin/python3}
TEXT=$(cd "$(dirname "$TEXT")" && pwd)/$(basename "$TEXT")
# SwiGLU has 3 matrices where GPT's GELU MLP has 2 of width 4d: 8d/3 (rounded to 8) gives the same parameters
FFN=${FFN:-$(( (8 * EMBD / 3 + 7) / 8 * 8 ))}
mkdir -p "$OUT/nanogpt/data/shakespeare_char"
uptime | tee "$OUT/uptime-start.txt"

# nanoGPT's data/shakespeare_char/prepare.py without the download: first 90% train, last 10% val, 65-char vocab
"$PY" - "$TEXT" "$OUT/nanogpt/data/shakespeare_char" <<'PYEOF'
import os, pickle, sys
import numpy as np
src, out = sys.argv[1], sys.argv[2]
data = open(src).read()
chars = sorted(set(data)); stoi = {c: i for i, c in enumerate(chars)}
n = len(data); cut = int(n * 0.9)
for name, part in (("train.bin", data[:cut]), ("val.bin", data[cut:])):
    np.array([stoi[c] for c in part], dtype=np.uint16).tofile(os.path.join(out, name))
pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi},
            open(os.path.join(out, "meta.pkl"), "wb"))
print(f"{n} chars, vocab {len(chars)}, train {cut}, val {n - cut}")
PYEOF
ln -sf "$NANOGPT/configurator.py" "$OUT/nanogpt/configurator.py"

( cd "$OUT/nanogpt" && OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$PY" "$NANOGPT/train.py" "$NANOGPT/config/train_shakespeare_char.py" \
    --device=cpu --compile=False --dtype=float32 --out_dir="$OUT/nanogpt/out" \
    --n_layer="$LAYERS" --n_head="$HEADS" --n_embd="$EMBD" --block_size="$BLOCK" --batch_size="$BATCH" \
    --dropout=0.0 --bias=False --max_iters="$STEPS" --lr_decay_iters="$STEPS" --warmup_iters="$WARMUP" \
    --learning_rate="$LR" --min_lr="$("$PY" -c "print($LR/10)")" --beta2="$BETA2" --weight_decay=0.1 --grad_clip=1.0 \
    --eval_interval="$EVAL_INTERVAL" --eval_iters="$EVAL_ITERS" --log_interval=10 --always_save_checkpoint=True \
    > "$OUT/nanogpt.log" 2>&1 ) &
NG=$!

MM1_THREADS=$THREADS "$ROOT/mm1" pretrain --out "$OUT/mm1" --overwrite \
    --set model.vision=false --set model.connector=false --set tokenizer=bytes \
    --set "data.sources=[{\"name\":\"text\",\"format\":\"text\",\"path\":\"$TEXT\"}]" --set data.val_fraction=0.1 \
    --set model.llm.hidden_size="$EMBD" --set model.llm.num_hidden_layers="$LAYERS" \
    --set model.llm.num_attention_heads="$HEADS" --set model.llm.num_key_value_heads="$HEADS" \
    --set model.llm.intermediate_size="$FFN" --set model.llm.tie_word_embeddings=true \
    --set model.llm.max_position_embeddings="$BLOCK" --set data.seq_len="$BLOCK" \
    --set train.batch_size="$BATCH" --set train.steps="$STEPS" --set optim.warmup_steps="$WARMUP" \
    --set optim.lr="$LR" --set optim.min_lr_ratio=0.1 --set optim.beta2="$BETA2" --set optim.weight_decay=0.1 \
    --set optim.clip_grad_norm=1.0 --set train.eval_interval="$EVAL_INTERVAL" \
    --set train.eval_batches="$EVAL_BATCHES" --set train.checkpoint_interval=0 \
    > "$OUT/mm1.log" 2>&1 || echo "mm1 pretrain failed: see $OUT/mm1.log"
wait "$NG" || echo "nanoGPT failed: see $OUT/nanogpt.log"
uptime | tee "$OUT/uptime-end.txt"

echo "nanoGPT (65-char vocab; val = mean of $EVAL_ITERS random windows of $BATCH x $BLOCK):"
grep -E '^step [0-9]+:' "$OUT/nanogpt.log" || true
echo "mm1j (264 byte ids; val = first $EVAL_BATCHES packed batches of the last 10%):"
grep '"valLoss"' "$OUT/mm1/metrics.jsonl" | sed -E 's/.*"step":([0-9]+).*"valLoss":([0-9.]+).*/step \1: val loss \2/' \
    || true

# nanoGPT's final checkpoint scored on exactly the characters mm1j's validation loss is computed on
echo "same characters:"
( cd "$OUT" && OMP_NUM_THREADS=$THREADS "$PY" - "$NANOGPT" "$OUT/nanogpt/out" "$TEXT" "$BATCH" "$BLOCK" "$EVAL_BATCHES" \
    <<'PYEOF'
# nanoGPT's checkpoint scored on exactly mm1j's validation characters: the first B*T chars of each of the first N
# validation documents (TextReader: blank-line paragraphs joined to >= 2000 chars; last round(10%) are validation),
# in rows of T, each row scored on its T next-character targets.
import math, os, pickle, sys
import numpy as np, torch
nanogpt, out_dir, text, B, T, N = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:7])
sys.path.insert(0, nanogpt)
from model import GPT, GPTConfig
lines = open(text).read().split('\n')
if lines and lines[-1] == '':
    lines = lines[:-1]
docs, doc, blank = [], '', False
for l in lines:
    if l.strip() == '':
        blank = True
        if len(doc) >= 2000:
            docs.append(doc.strip()); doc = ''
        continue
    if blank and doc:
        doc += '\n'
    blank = False; doc += l + '\n'
if doc.strip():
    docs.append(doc.strip())
val = docs[len(docs) - int(math.floor(len(docs) * 0.1 + 0.5)):][:N]
meta = pickle.load(open(os.path.join(out_dir, '..', 'data', 'shakespeare_char', 'meta.pkl'), 'rb'))
ck = torch.load(os.path.join(out_dir, 'ckpt.pt'), map_location='cpu')
m = GPT(GPTConfig(**ck['model_args'])); m.load_state_dict(ck['model']); m.eval()
tot, cnt = 0.0, 0
with torch.no_grad():
    for d in val:
        ids = [meta['stoi'][c] for c in d[:B * T + 1]]
        for r in range(B):
            x = ids[r * T:(r + 1) * T]; y = ids[r * T + 1:(r + 1) * T + 1]
            if len(y) < 1:
                break
            x = x[:len(y)]
            _, loss = m(torch.tensor([x]), torch.tensor([y]))
            tot += loss.item() * len(y); cnt += len(y)
print(f"nanoGPT checkpoint of step {ck['iter_num']} on mm1j's val characters ({len(val)} docs x first {B*T} chars, "
      f"{cnt} targets): {tot / cnt:.4f}")
PYEOF
) 2>&1 | grep -v -e WARNING -e 'number of parameters' || true
