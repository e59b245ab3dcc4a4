#!/usr/bin/env python3
"""Independent reference outputs for mm1j's CLIP ViT and VL connectors (VisionReferenceTest).

Written from the models' definitions in plain PyTorch (Debian's python3-torch 1.13; no transformers, no mm1j code):
  * the ViT follows Hugging Face's CLIPVisionModel (modeling_clip.py): conv patch embedding without bias, class
    embedding, learned position embeddings (bicubic-interpolated with align_corners=False for other grids, as
    interpolate_pos_encoding), pre_layrnorm, pre-LN blocks with scaled q, softmax attention and a quick-GELU or
    exact-GELU MLP; hidden_states[i] is the residual stream after i blocks; pooled = post_layernorm(CLS of the last);
  * the connectors follow their papers: average pooling is torch's adaptive_avg_pool2d; attention pooling is
    torch.nn.functional.multi_head_attention_forward (k learned queries over LayerNorm-ed patch tokens);
    the C-Abstractor is Honeybee's bottleneck stages (1x1 conv, LayerNorm over channels, SiLU, depthwise 3x3 conv
    with torch's conv2d(groups=C, padding=1), residual before the last SiLU) around an adaptive average pool,
    then fc2(gelu(fc1)); the MLP is LLaVA-1.5's linear_2(gelu(linear_1)).

Weights are seeded random float32 tensors under HF/mm1j names; the outputs are computed in float64 from those
float32 values and stored as float32. Everything goes into one safetensors file next to this script:

  /usr/bin/python3 make_vit_reference.py     # writes vit_connectors_reference.safetensors

Tensors: the weights (vision_model.*, connector.*), inputs (input.*) and expected outputs (expected.*).
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "vit_connectors_reference.safetensors")

# The configs the Java test builds (keep in step with VisionReferenceTest).
IMAGE, PATCH, WIDTH, LAYERS, HEADS, MLP, EPS = 16, 4, 16, 2, 2, 24, 1e-5
LLM = 12
AVG_K, ATTN_K, CABS_K, CABS_BLOCKS = 4, 3, 4, 2

gen = torch.Generator().manual_seed(20261130)
tensors = {}


def rand(name, *shape, std=0.3, mean=0.0):
    t = (torch.randn(*shape, generator=gen, dtype=torch.float64) * std + mean).float()
    tensors[name] = t
    return t.double()


def vit_weights(act):
    g = IMAGE // PATCH
    w = {"patch": rand("vision_model.embeddings.patch_embedding.weight", WIDTH, 3, PATCH, PATCH),
         "cls": rand("vision_model.embeddings.class_embedding", WIDTH),
         "pos": rand("vision_model.embeddings.position_embedding.weight", g * g + 1, WIDTH),
         "pre": (rand("vision_model.pre_layrnorm.weight", WIDTH, std=0.1, mean=1.0),
                 rand("vision_model.pre_layrnorm.bias", WIDTH, std=0.1)),
         "post": (rand("vision_model.post_layernorm.weight", WIDTH, std=0.1, mean=1.0),
                  rand("vision_model.post_layernorm.bias", WIDTH, std=0.1)),
         "layers": []}
    for i in range(LAYERS):
        p = "vision_model.encoder.layers.%d." % i
        layer = {}
        for n in ("layer_norm1", "layer_norm2"):
            layer[n] = (rand(p + n + ".weight", WIDTH, std=0.1, mean=1.0), rand(p + n + ".bias", WIDTH, std=0.1))
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            layer[n] = (rand(p + "self_attn." + n + ".weight", WIDTH, WIDTH), rand(p + "self_attn." + n + ".bias", WIDTH))
        layer["fc1"] = (rand(p + "mlp.fc1.weight", MLP, WIDTH), rand(p + "mlp.fc1.bias", MLP))
        layer["fc2"] = (rand(p + "mlp.fc2.weight", WIDTH, MLP), rand(p + "mlp.fc2.bias", WIDTH))
        w["layers"].append(layer)
    w["act"] = act
    return w


def ln(x, wb):
    return F.layer_norm(x, (x.shape[-1],), wb[0], wb[1], EPS)


def lin(x, wb):
    return F.linear(x, wb[0], wb[1])


def clip_vit(w, pixels):
    """Returns hidden_states (list, [0] = pre-LN'd embeddings) and pooled, as CLIPVisionModel."""
    n, _, h, wd = pixels.shape
    x = F.conv2d(pixels, w["patch"], stride=PATCH).flatten(2).transpose(1, 2)  # (N, P, D)
    cls = w["cls"].expand(n, 1, WIDTH)
    pos = w["pos"]
    g = IMAGE // PATCH
    gh, gw = h // PATCH, wd // PATCH
    if (gh, gw) != (g, g):
        grid = pos[1:].reshape(1, g, g, WIDTH).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        pos = torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(gh * gw, WIDTH)])
    x = torch.cat([cls, x], 1) + pos
    x = ln(x, w["pre"])
    states = [x]
    hd = WIDTH // HEADS
    for layer in w["layers"]:
        r = x
        t = ln(x, layer["layer_norm1"])
        q = lin(t, layer["q_proj"]) * hd ** -0.5
        k = lin(t, layer["k_proj"])
        v = lin(t, layer["v_proj"])
        split = lambda a: a.reshape(n, -1, HEADS, hd).transpose(1, 2)
        a = torch.softmax(split(q) @ split(k).transpose(-1, -2), -1) @ split(v)
        x = r + lin(a.transpose(1, 2).reshape(n, -1, WIDTH), layer["out_proj"])
        r = x
        t = lin(ln(x, layer["layer_norm2"]), layer["fc1"])
        t = t * torch.sigmoid(1.702 * t) if w["act"] == "quick_gelu" else F.gelu(t)
        x = r + lin(t, layer["fc2"])
        states.append(x)
    return states, ln(x[:, 0], w["post"])


def connectors(x):
    """Expected outputs of the four connectors on patch tokens x (N, P, Dv)."""
    n, p, dv = x.shape
    g = int(math.isqrt(p))
    out = {}
    proj = (rand("connector.proj.weight", LLM, dv), rand("connector.proj.bias", LLM))

    s = int(math.isqrt(AVG_K))
    grid = x.transpose(1, 2).reshape(n, dv, g, g)
    pooled = F.adaptive_avg_pool2d(grid, s).flatten(2).transpose(1, 2)  # (N, k, Dv), row-major
    out["avgpool"] = lin(pooled, proj)

    query = rand("connector.query", ATTN_K, dv)
    norm = (rand("connector.norm.weight", dv, std=0.1, mean=1.0), rand("connector.norm.bias", dv, std=0.1))
    a = {m: (rand("connector.attn.%s.weight" % m, dv, dv), rand("connector.attn.%s.bias" % m, dv))
         for m in ("q_proj", "k_proj", "v_proj", "out_proj")}
    kv = ln(x, norm).transpose(0, 1)  # (P, N, Dv): sequence-first
    qs = query.unsqueeze(1).expand(ATTN_K, n, dv)
    att, _ = F.multi_head_attention_forward(
        qs, kv, kv, dv, HEADS, None,
        torch.cat([a["q_proj"][1], a["k_proj"][1], a["v_proj"][1]]), None, None, False, 0.0,
        a["out_proj"][0], a["out_proj"][1], training=False, need_weights=False, use_separate_proj_weight=True,
        q_proj_weight=a["q_proj"][0], k_proj_weight=a["k_proj"][0], v_proj_weight=a["v_proj"][0])
    out["attnpool"] = lin(att.transpose(0, 1), proj)

    def block(y, b):  # y (N, C, h, w)
        def cln(t, name):  # LayerNorm over channels of a channels-first map
            return ln(t.permute(0, 2, 3, 1), name).permute(0, 3, 1, 2)
        c = y.shape[1]
        nrm = {i: (rand(b + "norm%d.weight" % i, c, std=0.1, mean=1.0), rand(b + "norm%d.bias" % i, c, std=0.1))
               for i in (1, 2, 3)}
        w1 = rand(b + "conv1.weight", c, c, 1, 1)
        w2 = rand(b + "conv2.weight", c, 1, 3, 3)
        w3 = rand(b + "conv3.weight", c, c, 1, 1)
        t = F.silu(cln(F.conv2d(y, w1), nrm[1]))
        t = F.silu(cln(F.conv2d(t, w2, padding=1, groups=c), nrm[2]))
        t = cln(F.conv2d(t, w3), nrm[3])
        return F.silu(y + t)

    y = grid
    for i in range(CABS_BLOCKS):
        y = block(y, "connector.stage1.%d." % i)
    y = F.adaptive_avg_pool2d(y, int(math.isqrt(CABS_K)))
    for i in range(CABS_BLOCKS):
        y = block(y, "connector.stage2.%d." % i)
    tokens = y.flatten(2).transpose(1, 2)
    fc1 = (rand("connector.readout.fc1.weight", LLM, dv), rand("connector.readout.fc1.bias", LLM))
    fc2 = (rand("connector.readout.fc2.weight", LLM, LLM), rand("connector.readout.fc2.bias", LLM))
    out["c-abstractor"] = lin(F.gelu(lin(tokens, fc1)), fc2)

    l1 = (rand("connector.linear_1.weight", LLM, dv), rand("connector.linear_1.bias", LLM))
    l2 = (rand("connector.linear_2.weight", LLM, LLM), rand("connector.linear_2.bias", LLM))
    out["mlp"] = lin(F.gelu(lin(x, l1)), l2)
    return out


def honeybee_cabstractor(x):
    """The C-Abstractor as Honeybee builds it (and MM1 used it): the same bottleneck weights as connectors() plus
    Honeybee's learned position embedding (added to the patch tokens before stage 1) and timm's SEModule in every
    RegNet bottleneck, between the depthwise conv and conv3: y * sigmoid(fc2(relu(fc1(mean_hw(y))))), 1x1 convs with
    bias, rd = round(0.25 * C). Its extra tensors are drawn after every other one, so the older tensors keep their
    values."""
    n, p, dv = x.shape
    g = int(math.isqrt(p))
    rd = max(1, round(dv * 0.25))
    pos = rand("connector.pos_emb", 1, p, dv)
    se = {}
    for stage in (1, 2):
        for i in range(CABS_BLOCKS):
            b = "connector.stage%d.%d.se." % (stage, i)
            se[b] = (rand(b + "fc1.weight", rd, dv, 1, 1), rand(b + "fc1.bias", rd),
                     rand(b + "fc2.weight", dv, rd, 1, 1), rand(b + "fc2.bias", dv))
    t = lambda name: tensors[name].double()

    def cln(y, b, i):
        return ln(y.permute(0, 2, 3, 1), (t(b + "norm%d.weight" % i), t(b + "norm%d.bias" % i))).permute(0, 3, 1, 2)

    def block(y, b):  # y (N, C, h, w)
        c = y.shape[1]
        h = F.silu(cln(F.conv2d(y, t(b + "conv1.weight")), b, 1))
        h = F.silu(cln(F.conv2d(h, t(b + "conv2.weight"), padding=1, groups=c), b, 2))
        w1, b1, w2, b2 = se[b + "se."]
        s = h.mean((2, 3), keepdim=True)
        h = h * torch.sigmoid(F.conv2d(F.relu(F.conv2d(s, w1, b1)), w2, b2))
        h = cln(F.conv2d(h, t(b + "conv3.weight")), b, 3)
        return F.silu(y + h)

    y = (x + pos).transpose(1, 2).reshape(n, dv, g, g)
    for i in range(CABS_BLOCKS):
        y = block(y, "connector.stage1.%d." % i)
    y = F.adaptive_avg_pool2d(y, int(math.isqrt(CABS_K)))
    for i in range(CABS_BLOCKS):
        y = block(y, "connector.stage2.%d." % i)
    tokens = y.flatten(2).transpose(1, 2)
    fc1 = (t("connector.readout.fc1.weight"), t("connector.readout.fc1.bias"))
    fc2 = (t("connector.readout.fc2.weight"), t("connector.readout.fc2.bias"))
    return lin(F.gelu(lin(tokens, fc1)), fc2)


def write_safetensors(path, named):
    header, blobs, offset = {}, [], 0
    for name in sorted(named):
        data = named[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(named[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    w = vit_weights("quick_gelu")
    pixels = rand("input.pixels", 2, 3, IMAGE, IMAGE, std=1.0)
    states, pooled = clip_vit(w, pixels)
    tensors["expected.vit.last_patch_tokens"] = states[-1][:, 1:].float()
    tensors["expected.vit.pooled"] = pooled.float()
    tensors["expected.vit.second_last_patch_tokens"] = states[-2][:, 1:].float()
    w["act"] = "gelu"
    states, pooled = clip_vit(w, pixels)
    tensors["expected.vit_gelu.last_patch_tokens"] = states[-1][:, 1:].float()
    w["act"] = "quick_gelu"
    big = rand("input.pixels_double", 1, 3, 2 * IMAGE, 2 * IMAGE, std=1.0)
    states, pooled = clip_vit(w, big)
    tensors["expected.vit_double.last_patch_tokens"] = states[-1][:, 1:].float()
    tensors["expected.vit_double.pooled"] = pooled.float()

    x = rand("input.patch_tokens", 2, (IMAGE // PATCH) ** 2, WIDTH, std=1.0)
    for name, t in connectors(x).items():
        tensors["expected.connector." + name] = t.float()
    tensors["expected.connector.c-abstractor-honeybee"] = honeybee_cabstractor(x).float()
    write_safetensors(OUT, tensors)
    for name in sorted(n for n in tensors if n.startswith("expected.")):
        print("%-45s %-14s max|x| %.4f" % (name, tuple(tensors[name].shape), tensors[name].abs().max().item()))


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
