#!/bin/bash
# The SFT measurement of README "Fine-tuning": VQA before/after SFT, high-res vs low-res on small-text questions,
# and the LoRA vs full optimiser memory. Needs a pre-trained mini (./mm1 demo --quick writes runs/demo/pretrain).
# Usage: [STEPS=300] scripts/sft_experiment.sh [WORKDIR]   (README: STEPS=120 and 300; ~15 minutes on 2 quiet cores)
set -euo pipefail
mm1="$(cd "$(dirname "$0")/.." && pwd)/mm1"
base="$(cd "$(dirname "$0")/.." && pwd)/runs/demo/pretrain/model"
work="${1:-runs/sft-experiment}"
mkdir -p "$work" && cd "$work"
[ -d syn ] || "$mm1" data synth --small-text --images 1000 --size 128 --seed 7 --out syn
# the writer asks an image's questions in a fixed order; shuffle them per conversation so that every question type
# also appears as the first turn (the evaluation asks single-turn questions)
python3 - <<'PY'
import json, random
rnd = random.Random(11)
d = json.load(open('syn/llava/train.json'))
for c in d:
    t = c['conversations']
    pairs = [(t[i]['value'].replace('<image>\n', ''), t[i + 1]['value']) for i in range(0, len(t), 2)]
    rnd.shuffle(pairs)
    c['conversations'] = [x for k, (q, a) in enumerate(pairs) for x in (
        {'from': 'human', 'value': ('<image>\n' if k == 0 else '') + q}, {'from': 'gpt', 'value': a})]
json.dump(d, open('syn/llava/train_shuffled.json', 'w'))
# held-out set: every small-sign question of the test split and the first 105 others
q = json.load(open('syn/vqa/questions_test.json')); a = json.load(open('syn/vqa/annotations_test.json'))
small = [x for x in q['questions'] if 'small sign' in x['question']]
other = [x for x in q['questions'] if 'small sign' not in x['question']][:105]
keep = {x['question_id'] for x in small + other}
q['questions'] = [x for x in q['questions'] if x['question_id'] in keep]
a['annotations'] = [x for x in a['annotations'] if x['question_id'] in keep]
import os; os.makedirs('evalset', exist_ok=True)
json.dump(q, open('evalset/questions_test.json', 'w')); json.dump(a, open('evalset/annotations_test.json', 'w'))
PY
common=(--init "$base" --data syn/llava/train_shuffled.json --images syn/images/train --steps "${STEPS:-300}" --seed 0
  --set optim.lr=1e-3 --set optim.warmup_steps=10 --set train.eval_interval=150 --set train.eval_batches=2
  --set train.checkpoint_interval=150 --set train.batch_size=4)
"$mm1" sft "${common[@]}" --set data.seq_len=256 --out lowres
"$mm1" sft "${common[@]}" --set data.seq_len=384 --high-res --out highres
ev=(--task vqav2 --data evalset/questions_test.json --annotations evalset/annotations_test.json
  --images syn/images/test --log-samples)
"$mm1" eval --model "$base" "${ev[@]}" --out eval-base
"$mm1" eval --model lowres/model "${ev[@]}" --template chat --out eval-lowres
"$mm1" eval --model highres/model "${ev[@]}" --template chat --out eval-highres
lora=(--init "$base" --data syn/llava/train_shuffled.json --images syn/images/train --steps 2 --seed 0
  --set train.eval_interval=0 --set train.batch_size=2 --lora rank=8,alpha=16,targets=q_proj,k_proj,v_proj,o_proj)
"$mm1" sft "${lora[@]}" --out lora-adafactor
"$mm1" sft "${lora[@]}" --set optim.name=adamw --out lora-adamw
for d in eval-base eval-lowres eval-highres; do
  python3 -c "
import json
S = [json.loads(l) for l in open('$d/samples.jsonl')]
sm = [s['score'] for s in S if 'small sign' in s['prompt']]; ot = [s['score'] for s in S if 'small sign' not in s['prompt']]
print('$d', 'overall', json.load(open('$d/scores.json'))['metrics']['overall'], 'small-sign', 100 * sum(sm) / len(sm),
      'other', 100 * sum(ot) / len(ot))"
done
grep -h '"optimizerStateBytes"\|"fullFineTuningOptimizerStateBytes"\|"trainableParameters"' lora-*/summary.json
