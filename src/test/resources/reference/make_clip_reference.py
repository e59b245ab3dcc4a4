"""Reference values for mm1j's encoder pre-training losses (ContrastiveLossTest, AimObjectiveTest).

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 src/test/resources/reference/make_clip_reference.py
Writes clip_reference.json next to this script. The formulas are CLIP's (Radford et al. 2021, Fig. 3) and AIM's
(El-Nouby et al. 2024, §3), written here directly in torch as the papers state them.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

# --- symmetric InfoNCE on hand-made embeddings -------------------------------------------------------------------
image = torch.tensor([[1.0, 0.0, 0.5, -0.2],
                      [0.1, 2.0, -0.3, 0.0],
                      [-0.5, 0.4, 1.5, 0.3]], requires_grad=True)
text = torch.tensor([[0.9, 0.1, 0.4, 0.0],
                     [0.0, 1.0, 0.2, 0.3],
                     [0.2, -0.1, 1.0, 0.8]], requires_grad=True)
log_scale = torch.tensor(math.log(3.0), requires_grad=True)

i = F.normalize(image, dim=-1)
t = F.normalize(text, dim=-1)
logits = log_scale.exp() * i @ t.T
labels = torch.arange(3)
loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
loss.backward()

# --- AIM: normalised patch targets and the masked next-patch MSE ------------------------------------------------
g = torch.Generator().manual_seed(0)
pixels = torch.randn(2, 3, 4, 4, generator=g)  # N=2, 2x2 patches of 2x2 pixels -> P = 4, 12 values per patch
p = 2
n, c, h, w = pixels.shape
patches = pixels.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(n, (h // p) * (w // p), c * p * p)
mean = patches.mean(-1, keepdim=True)
var = patches.var(-1, unbiased=False, keepdim=True)
targets = (patches - mean) / (var + 1e-6).sqrt()
pred = torch.randn(n, 4, c * p * p, generator=g)  # position q predicts patch q+1 (CLS at position 0)
prefix = [1, 3]
weights = torch.zeros(n, 4)
for b, k in enumerate(prefix):
    weights[b, k:] = 1
err = ((pred - targets) ** 2).mean(-1)
aim_loss = (err * weights).sum() / weights.sum()

out = {
    "image": image.detach().tolist(), "text": text.detach().tolist(), "logScale": log_scale.item(),
    "logits": logits.detach().tolist(), "loss": loss.item(),
    "gradLogScale": log_scale.grad.item(), "gradImage": image.grad.tolist(),
    "pixels": pixels.flatten().tolist(), "targets": targets.flatten().tolist(), "pred": pred.flatten().tolist(),
    "prefix": prefix, "aimLoss": aim_loss.item(),
    "torch": torch.__version__,
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip_reference.json"), "w") as f:
    json.dump(out, f, indent=1)
print("loss", loss.item(), "aim", aim_loss.item())
