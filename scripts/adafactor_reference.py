"""Reference values for AdaFactorTest: HF transformers' Adafactor step (relative_step=False,
scale_parameter=False, warmup_init=False, beta1=None), transcribed from the paper's Algorithm 4 into torch.
Run with Debian's /usr/bin/python3 (torch 1.13, which has no Adafactor of its own):
    /usr/bin/python3 scripts/adafactor_reference.py > src/test/resources/adafactor_reference.txt
"""
import torch

torch.set_default_dtype(torch.float64)
LR, WD, DECAY, EPS1, CLIP = 0.01, 0.1, -0.8, 1e-30, 1.0

W = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B = torch.tensor([0.1, -0.2, 0.3])
grads = [
    (torch.tensor([[0.2, -0.1, 0.4], [-0.3, 0.05, 0.6]]), torch.tensor([0.01, -0.5, 2.0])),
    (torch.tensor([[-0.1, 0.3, 0.2], [0.7, -0.2, 0.1]]), torch.tensor([0.3, 0.2, -0.1])),
    (torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.3, -0.4]]), torch.tensor([-1.0, 0.0, 0.5])),
]
R = torch.zeros(2)
C = torch.zeros(3)
V = torch.zeros(3)
for t, (gw, gb) in enumerate(grads, start=1):
    beta2t = 1.0 - t ** DECAY
    # matrix: factored second moments
    u = gw ** 2 + EPS1
    R = beta2t * R + (1 - beta2t) * u.mean(dim=-1)
    C = beta2t * C + (1 - beta2t) * u.mean(dim=-2)
    r_factor = (R / R.mean(dim=-1, keepdim=True)).rsqrt().unsqueeze(-1)
    c_factor = C.unsqueeze(-2).rsqrt()
    upd = r_factor * c_factor * gw
    upd = upd / max(1.0, (upd.pow(2).mean().sqrt() / CLIP).item())
    W = W * (1 - LR * WD) - LR * upd  # decoupled decay on matrices (mm1j decays matrices only)
    # vector: full second moment, no decay
    u = gb ** 2 + EPS1
    V = beta2t * V + (1 - beta2t) * u
    upd = V.rsqrt() * gb
    upd = upd / max(1.0, (upd.pow(2).mean().sqrt() / CLIP).item())
    B = B - LR * upd
print("W", " ".join("%.12e" % x for x in W.flatten().tolist()))
print("B", " ".join("%.12e" % x for x in B.tolist()))
print("R", " ".join("%.12e" % x for x in R.tolist()))
print("C", " ".join("%.12e" % x for x in C.tolist()))
