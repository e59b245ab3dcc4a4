#!/usr/bin/python3
"""Tiny random LLaVA-1.5 / LLaVA-NeXT folders and their expected outputs, for mm1j's LLaVA loader tests.

Run with Debian's interpreter (torch 1.13, numpy, PIL; no transformers):

    /usr/bin/python3 scripts/llava_reference.py src/test/resources/llava

An independent implementation of the Hugging Face LLaVA forward, written from the transformers documentation and
configs (facts carried over, no code):

* CLIP vision tower: conv patch embedding (no bias) -> [class_embedding; patches] + position_embedding ->
  pre_layrnorm; hidden_states[0] is that output, hidden_states[i] the output of encoder layer i; each layer is
  x + out_proj(attn(layer_norm1(x))), then x + fc2(act(fc1(layer_norm2(x)))), attention scaled by head_dim^-0.5,
  act = quick_gelu (x * sigmoid(1.702 x)) or exact gelu.
* features = hidden_states[vision_feature_layer]; "default" drops the CLS row, "full" keeps it.
* projector: linear_2(act(linear_1(features))), biases iff multimodal_projector_bias.
* LLaVA-NeXT: anyres tiles (best pinpoint by effective then wasted resolution, aspect-keeping resize with ceil,
  centered zero padding, row-major crops), base image = whole image squashed to the tower resolution; per image the
  base features, then the tile grid (rows, cols, h, w, D) -> (D, rows*h, cols*w), unpadded to the original aspect
  (round(.., 7)), image_newline appended to every row, flattened row-major.
* image features replace the <image> positions in order (masked_scatter), then the Llama/Mistral decoder: RMSNorm,
  rotary embeddings in the rotate_half convention, grouped-query attention with a causal mask, SwiGLU MLP, lm_head.
* CLIPImageProcessor: shortest edge resized with PIL bicubic (long side int(S * long / short)), center crop
  ((h - c) // 2), /255, (x - mean) / std.

Everything runs in float64 from weights rounded to the stored dtype, so the expected logits carry no float32
rounding of their own. Writes <out>/<fixture>/ (config.json, weights, preprocessor_config.json, tokenizer.json,
tokenizer_config.json, image.png, expected.json).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

WORDS = ["USER:", "ASSISTANT:", "describe", "the", "picture", ".", "a", "red", "cat", "on", "mat", "is", "what",
         "blue", "sky", "dog", "and", "tree", "house", "green", "small", "big", "with", "of", "in", "it", "there",
         "sun", "car", "road", "light", "dark", "left", "right", "top", "bottom"]
SPECIALS = ["<unk>", "<s>", "</s>"]
IMAGE_ID = len(SPECIALS) + len(WORDS)  # 39: after the base vocabulary, as llava-1.5's 32000
VOCAB = IMAGE_ID + 1 + 8  # the model's embedding is padded past the tokenizer (llava-1.5: 32064)
TEMPLATE = ("{% for message in messages %}{{ message['role'] | upper + ': ' + message['content'] + ' ' }}{% endfor %}"
            "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")


def prompt_text(user):
    """What TEMPLATE renders for one user turn plus the generation prompt."""
    return "USER: " + user + " ASSISTANT:"


# ---------------------------------------------------------------- tokenizer

def tokenizer_json():
    vocab = {t: i for i, t in enumerate(SPECIALS + WORDS)}
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in enumerate(SPECIALS)]
    added.append({"id": IMAGE_ID, "content": "<image>", "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True})
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
    }


def tokenize(text):
    """BOS (the post-processor's template) + WhitespaceSplit words; '<image>' is an added token."""
    vocab = {t: i for i, t in enumerate(SPECIALS + WORDS)}
    ids = [1]
    for piece in text.replace("<image>", " <image> ").split():
        ids.append(IMAGE_ID if piece == "<image>" else vocab[piece])
    return ids


# ---------------------------------------------------------------- weights

def rounded(t, dtype):
    """The tensor as the stored dtype would give it back, in float64."""
    return t.to(dtype).to(torch.float64)


def rand(gen, shape, std):
    return torch.randn(*shape, generator=gen, dtype=torch.float64) * std


def vision_weights(gen, vc):
    d, f, p = vc["hidden_size"], vc["intermediate_size"], vc["patch_size"]
    g = vc["image_size"] // p
    w = {"embeddings.patch_embedding.weight": rand(gen, (d, 3, p, p), 0.1),
         "embeddings.class_embedding": rand(gen, (d,), 1.0),
         "embeddings.position_embedding.weight": rand(gen, (g * g + 1, d), 0.5),
         "pre_layrnorm.weight": 1 + rand(gen, (d,), 0.1), "pre_layrnorm.bias": rand(gen, (d,), 0.1),
         "post_layernorm.weight": 1 + rand(gen, (d,), 0.1), "post_layernorm.bias": rand(gen, (d,), 0.1)}
    for i in range(vc["num_hidden_layers"]):
        l = "encoder.layers.%d." % i
        for n in ("layer_norm1", "layer_norm2"):
            w[l + n + ".weight"] = 1 + rand(gen, (d,), 0.1)
            w[l + n + ".bias"] = rand(gen, (d,), 0.1)
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[l + "self_attn." + n + ".weight"] = rand(gen, (d, d), 0.3)
            w[l + "self_attn." + n + ".bias"] = rand(gen, (d,), 0.1)
        w[l + "mlp.fc1.weight"] = rand(gen, (f, d), 0.3)
        w[l + "mlp.fc1.bias"] = rand(gen, (f,), 0.1)
        w[l + "mlp.fc2.weight"] = rand(gen, (d, f), 0.3)
        w[l + "mlp.fc2.bias"] = rand(gen, (d,), 0.1)
    return w


def text_weights(gen, tc):
    d, f, v = tc["hidden_size"], tc["intermediate_size"], tc["vocab_size"]
    hd = d // tc["num_attention_heads"]
    kv = tc["num_key_value_heads"] * hd
    w = {"embed_tokens.weight": rand(gen, (v, d), 1.0), "norm.weight": 1 + rand(gen, (d,), 0.1)}
    for i in range(tc["num_hidden_layers"]):
        l = "layers.%d." % i
        w[l + "input_layernorm.weight"] = 1 + rand(gen, (d,), 0.1)
        w[l + "post_attention_layernorm.weight"] = 1 + rand(gen, (d,), 0.1)
        w[l + "self_attn.q_proj.weight"] = rand(gen, (d, d), 0.3)
        w[l + "self_attn.k_proj.weight"] = rand(gen, (kv, d), 0.3)
        w[l + "self_attn.v_proj.weight"] = rand(gen, (kv, d), 0.3)
        w[l + "self_attn.o_proj.weight"] = rand(gen, (d, d), 0.3)
        w[l + "mlp.gate_proj.weight"] = rand(gen, (f, d), 0.3)
        w[l + "mlp.up_proj.weight"] = rand(gen, (f, d), 0.3)
        w[l + "mlp.down_proj.weight"] = rand(gen, (d, f), 0.3)
    return w


# ---------------------------------------------------------------- forward passes (float64)

def act(name, x):
    if name == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    raise ValueError(name)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def clip_hidden_states(w, vc, pixels):
    """pixels (N, 3, S, S) -> list of hidden states, [0] = pre_layrnorm(embeddings)."""
    n = pixels.shape[0]
    d, p = vc["hidden_size"], vc["patch_size"]
    heads = vc["num_attention_heads"]
    hd = d // heads
    eps = vc.get("layer_norm_eps", 1e-5)
    x = torch.nn.functional.conv2d(pixels, w["embeddings.patch_embedding.weight"], stride=p)  # (N, D, g, g)
    x = x.flatten(2).transpose(1, 2)  # (N, P, D), row-major patches
    cls = w["embeddings.class_embedding"].expand(n, 1, d)
    x = torch.cat([cls, x], 1) + w["embeddings.position_embedding.weight"][None]
    x = layer_norm(x, w["pre_layrnorm.weight"], w["pre_layrnorm.bias"], eps)
    states = [x]
    for i in range(vc["num_hidden_layers"]):
        l = "encoder.layers.%d." % i
        h = layer_norm(x, w[l + "layer_norm1.weight"], w[l + "layer_norm1.bias"], eps)
        proj = lambda t, name: t @ w[l + "self_attn." + name + ".weight"].T + w[l + "self_attn." + name + ".bias"]
        t = h.shape[1]
        q = proj(h, "q_proj").view(n, t, heads, hd).transpose(1, 2)
        k = proj(h, "k_proj").view(n, t, heads, hd).transpose(1, 2)
        v = proj(h, "v_proj").view(n, t, heads, hd).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) * hd ** -0.5, -1) @ v  # (N, H, T, hd)
        x = x + proj(a.transpose(1, 2).reshape(n, t, d), "out_proj")
        h = layer_norm(x, w[l + "layer_norm2.weight"], w[l + "layer_norm2.bias"], eps)
        h = act(vc["hidden_act"], h @ w[l + "mlp.fc1.weight"].T + w[l + "mlp.fc1.bias"])
        x = x + h @ w[l + "mlp.fc2.weight"].T + w[l + "mlp.fc2.bias"]
        states.append(x)
    return states


def project(pw, cfg, feats):
    def lin(x, name):
        y = x @ pw[name + ".weight"].T
        return y + pw[name + ".bias"] if cfg["multimodal_projector_bias"] else y
    return lin(act(cfg["projector_hidden_act"], lin(feats, "linear_1")), "linear_2")


def tile_features(vw, pw, cfg, pixels):
    """(N, 3, S, S) -> projected features (N, k, D_text)."""
    hs = clip_hidden_states(vw, cfg["vision_config"], pixels)[cfg["vision_feature_layer"]]
    if cfg["vision_feature_select_strategy"] == "default":
        hs = hs[:, 1:]
    return project(pw, cfg, hs)


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


def decoder_logits(w, tc, embeds):
    """embeds (T, D) -> logits (T, V)."""
    t, d = embeds.shape
    heads, kvh = tc["num_attention_heads"], tc["num_key_value_heads"]
    hd = d // heads
    eps = tc["rms_norm_eps"]
    inv = 1.0 / (tc["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.arange(t, dtype=torch.float64)[:, None] * inv[None]
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()
    causal = torch.full((t, t), float("-inf"), dtype=torch.float64).triu(1)
    x = embeds
    for i in range(tc["num_hidden_layers"]):
        l = "layers.%d." % i
        h = rms_norm(x, w[l + "input_layernorm.weight"], eps)
        q = (h @ w[l + "self_attn.q_proj.weight"].T).view(t, heads, hd).transpose(0, 1)
        k = (h @ w[l + "self_attn.k_proj.weight"].T).view(t, kvh, hd).transpose(0, 1)
        v = (h @ w[l + "self_attn.v_proj.weight"].T).view(t, kvh, hd).transpose(0, 1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kvh, 0)
        v = v.repeat_interleave(heads // kvh, 0)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + causal, -1) @ v  # (H, T, hd)
        x = x + a.transpose(0, 1).reshape(t, d) @ w[l + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[l + "post_attention_layernorm.weight"], eps)
        g = h @ w[l + "mlp.gate_proj.weight"].T
        x = x + (g * torch.sigmoid(g) * (h @ w[l + "mlp.up_proj.weight"].T)) @ w[l + "mlp.down_proj.weight"].T
    return rms_norm(x, w["norm.weight"], eps) @ w["lm_head.weight"].T


# ---------------------------------------------------------------- preprocessing

def normalize(arr):
    """uint8 (H, W, 3) -> float64 (3, H, W) with CLIP's rescale and mean/std."""
    x = arr.astype(np.float64) / 255.0
    x = (x - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def clip_preprocess(img, shortest, crop):
    w, h = img.size
    if w <= h:
        nw, nh = shortest, int(shortest * h / w)
    else:
        nh, nw = shortest, int(shortest * w / h)
    img = img.resize((nw, nh), Image.BICUBIC)
    top, left = (nh - crop) // 2, (nw - crop) // 2
    return normalize(np.asarray(img)[top:top + crop, left:left + crop])


def best_resolution(h, w, pinpoints):
    best, best_eff, best_waste = None, 0, float("inf")
    for ph, pw in pinpoints:
        scale = min(pw / w, ph / h)
        eff = min(int(w * scale) * int(h * scale), w * h)
        waste = ph * pw - eff
        if eff > best_eff or (eff == best_eff and waste < best_waste):
            best, best_eff, best_waste = (ph, pw), eff, waste
    return best


def anyres_tiles(img, pinpoints, size):
    """PIL image -> (1 + rows*cols, 3, size, size): base image squashed to size, then row-major tiles."""
    w, h = img.size
    th, tw = best_resolution(h, w, pinpoints)
    sw, sh = tw / w, th / h
    if sw < sh:
        nw, nh = tw, min(math.ceil(h * sw), th)
    else:
        nh, nw = th, min(math.ceil(w * sh), tw)
    resized = np.asarray(img.resize((nw, nh), Image.BICUBIC))
    padded = np.zeros((th, tw, 3), np.uint8)
    y0, x0 = (th - nh) // 2, (tw - nw) // 2
    padded[y0:y0 + nh, x0:x0 + nw] = resized
    tiles = [normalize(np.asarray(img.resize((size, size), Image.BICUBIC)))]
    for r in range(0, th, size):
        for c in range(0, tw, size):
            tiles.append(normalize(padded[r:r + size, c:c + size]))
    return torch.stack(tiles), (th // size, tw // size)


def unpad(t, h, w):
    """t (D, H', W') of the padded grid -> the rows/cols that show the image."""
    ch, cw = t.shape[1:]
    if w / h > cw / ch:
        nh = int(round(h * (cw / w), 7))
        pad = (ch - nh) // 2
        return t[:, pad:ch - pad, :]
    nw = int(round(w * (ch / h), 7))
    pad = (cw - nw) // 2
    return t[:, :, pad:cw - pad]


def next_features(vw, pw, newline, cfg, img):
    vc = cfg["vision_config"]
    size = vc["image_size"]
    tiles, (rows, cols) = anyres_tiles(img, cfg["image_grid_pinpoints"], size)
    feats = tile_features(vw, pw, cfg, tiles)  # (1 + rows*cols, g*g, D)
    g = size // vc["patch_size"]
    d = feats.shape[-1]
    base = feats[0]
    grid = feats[1:].view(rows, cols, g, g, d).permute(4, 0, 2, 1, 3).reshape(d, rows * g, cols * g)
    grid = unpad(grid, img.size[1], img.size[0])
    grid = torch.cat([grid, newline[:, None, None].expand(d, grid.shape[1], 1)], -1)  # newline ends every row
    return torch.cat([base, grid.flatten(1).T], 0), tiles.shape[0]


# ---------------------------------------------------------------- files

def write_safetensors(path, tensors, dtype):
    names = sorted(tensors)
    header, blobs, off = {}, [], 0
    code = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[dtype]
    for n in names:
        t = tensors[n].to(dtype).contiguous()
        raw = (t.view(torch.int16) if dtype == torch.bfloat16 else t).numpy().tobytes()
        header[n] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def hf_names(layout, vw, pw, tw, lm_head, newline):
    """Our component dicts under the checkpoint's key layout."""
    out = {}
    if layout == "legacy":
        vp, pp, tp, hp, np_ = "vision_tower.vision_model.", "multi_modal_projector.", "language_model.model.", \
            "language_model.lm_head.weight", "image_newline"
    else:
        vp, pp, tp, hp, np_ = "model.vision_tower.vision_model.", "model.multi_modal_projector.", \
            "model.language_model.", "lm_head.weight", "model.image_newline"
    out.update({vp + k: v for k, v in vw.items()})
    out.update({pp + k: v for k, v in pw.items()})
    out.update({tp + k: v for k, v in tw.items()})
    out[hp] = lm_head
    if newline is not None:
        out[np_] = newline
    return out


def make(out_dir, name, seed, arch, layout, dtype, shards, cfg_extra, vision_extra, text_extra, image_hw, user,
         greedy_steps=6):
    gen = torch.Generator().manual_seed(seed)
    nxt = arch == "LlavaNextForConditionalGeneration"
    vc = {"model_type": "clip_vision_model", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
          "num_attention_heads": 2, "image_size": 28 if nxt else 42, "patch_size": 14, "hidden_act": "quick_gelu",
          "layer_norm_eps": 1e-5, "projection_dim": 16}
    vc.update(vision_extra)
    tc = {"model_type": "llama", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 1,
          "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": VOCAB, "max_position_embeddings": 256,
          "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False, "bos_token_id": 1,
          "eos_token_id": 2}
    tc.update(text_extra)
    cfg = {"architectures": [arch], "model_type": "llava_next" if nxt else "llava", "image_token_index": IMAGE_ID,
           "projector_hidden_act": "gelu", "multimodal_projector_bias": True, "vision_feature_layer": -2,
           "vision_feature_select_strategy": "default", "tie_word_embeddings": False, "torch_dtype": str(dtype)[6:],
           "vision_config": vc, "text_config": tc}
    if nxt:
        s = vc["image_size"]
        cfg["image_grid_pinpoints"] = [[s, 2 * s], [2 * s, s], [2 * s, 2 * s], [3 * s, s], [s, 3 * s]]
    cfg.update(cfg_extra)
    g = vc["image_size"] // vc["patch_size"]
    if not nxt:
        cfg["image_seq_length"] = g * g + (1 if cfg["vision_feature_select_strategy"] == "full" else 0)

    vw = {k: rounded(v, dtype) for k, v in vision_weights(gen, vc).items()}
    tw = {k: rounded(v, dtype) for k, v in text_weights(gen, tc).items()}
    dv, dt = vc["hidden_size"], tc["hidden_size"]
    pw = {"linear_1.weight": rounded(rand(gen, (dt, dv), 0.3), dtype),
          "linear_2.weight": rounded(rand(gen, (dt, dt), 0.3), dtype)}
    if cfg["multimodal_projector_bias"]:
        pw["linear_1.bias"] = rounded(rand(gen, (dt,), 0.1), dtype)
        pw["linear_2.bias"] = rounded(rand(gen, (dt,), 0.1), dtype)
    lm_head = rounded(rand(gen, (tc["vocab_size"], dt), 0.3), dtype)
    newline = rounded(rand(gen, (dt,), 1.0), dtype) if nxt else None

    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    tensors = hf_names(layout, vw, pw, tw, lm_head, newline)
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), tensors, dtype)
    else:
        names = sorted(tensors)
        weight_map, per = {}, math.ceil(len(names) / shards)
        for s in range(shards):
            file = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
            part = names[s * per:(s + 1) * per]
            write_safetensors(os.path.join(folder, file), {n: tensors[n] for n in part}, dtype)
            weight_map.update({n: file for n in part})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=1, sort_keys=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    pre = {"image_processor_type": "LlavaNextImageProcessor" if nxt else "CLIPImageProcessor",
           "do_resize": True, "size": {"shortest_edge": vc["image_size"]}, "resample": 3, "do_center_crop": True,
           "crop_size": {"height": vc["image_size"], "width": vc["image_size"]}, "do_rescale": True,
           "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
           "do_convert_rgb": True}
    if nxt:
        pre["image_grid_pinpoints"] = cfg["image_grid_pinpoints"]
        pre["do_pad"] = True
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=1)
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f, indent=1)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
                   "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False, "chat_template": TEMPLATE,
                   "model_max_length": tc["max_position_embeddings"]}, f, indent=1)

    # the input image: smooth colours plus noise, so that resizing has work to do
    h, w = image_hw
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.RandomState(seed)
    arr = np.stack([128 + 100 * np.sin(xx / 5.0 + c) * np.cos(yy / 7.0 - c) for c in range(3)], -1)
    arr = np.clip(arr + rng.randint(-30, 31, arr.shape), 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(os.path.join(folder, "image.png"))
    img = Image.open(os.path.join(folder, "image.png")).convert("RGB")

    if nxt:
        feats, tiles = next_features(vw, pw, newline, cfg, img)
        pixels = anyres_tiles(img, cfg["image_grid_pinpoints"], vc["image_size"])[0]
    else:
        pixels = clip_preprocess(img, vc["image_size"], vc["image_size"])[None]
        feats, tiles = tile_features(vw, pw, cfg, pixels)[0], 1
    text = prompt_text(user)
    ids = []
    for t in tokenize(text):
        ids.extend([t] * (feats.shape[0] if t == IMAGE_ID else 1))
    image_positions = [i for i, t in enumerate(ids) if t == IMAGE_ID]
    tw["lm_head.weight"] = lm_head

    def logits_for(seq):
        emb = tw["embed_tokens.weight"][torch.tensor(seq)].clone()
        emb[torch.tensor(image_positions)] = feats
        return decoder_logits(tw, tc, emb)

    logits = logits_for(ids)
    seq, greedy, margins = list(ids), [], []
    for _ in range(greedy_steps):
        last = logits_for(seq)[-1]
        top = torch.topk(last, 2).values
        margins.append(float(top[0] - top[1]))
        nxt_id = int(last.argmax())
        greedy.append(nxt_id)
        if nxt_id == tc["eos_token_id"]:
            break
        seq.append(nxt_id)
    if min(margins) < 1e-3:
        raise SystemExit("%s: greedy margin %.2g too small for a float32 comparison; change the seed"
                         % (name, min(margins)))
    expected = {"fixture": name, "architecture": arch, "layout": layout, "dtype": str(dtype)[6:],
                "prompt": text, "user": user, "image": "image.png", "image_size": [h, w], "tiles": tiles,
                "image_tokens": int(feats.shape[0]), "input_ids": ids,
                "pixel_abs_sums": [float(t.abs().sum()) for t in pixels], "vocab_size": tc["vocab_size"],
                "logits": [[round(float(v), 6) for v in row] for row in logits],
                "greedy": greedy, "greedy_min_margin": min(margins)}
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    print("%-24s tokens %3d (image %3d, tiles %d)  greedy %s  margin %.3g" % (
        name, len(ids), feats.shape[0], tiles, greedy, min(margins)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "src/test/resources/llava"
    torch.set_default_dtype(torch.float64)
    make(out, "llava15-legacy", 11, "LlavaForConditionalGeneration", "legacy", torch.float16, 2, {}, {}, {},
         (50, 71), "<image> describe the picture .")
    make(out, "llava15-new", 22, "LlavaForConditionalGeneration", "new", torch.bfloat16, 1,
         {"vision_feature_select_strategy": "full", "vision_feature_layer": -1, "multimodal_projector_bias": False},
         {"hidden_act": "gelu"}, {"model_type": "mistral", "sliding_window": None, "rope_theta": 1000000.0},
         (64, 45), "what is in the picture <image>")
    make(out, "llava-next-legacy", 13, "LlavaNextForConditionalGeneration", "legacy", torch.float32, 2, {}, {},
         {}, (30, 61), "<image> describe the picture .")
    make(out, "llava-next-new", 15, "LlavaNextForConditionalGeneration", "new", torch.float16, 1, {}, {},
         {"model_type": "mistral", "sliding_window": None}, (61, 30), "<image> what is in the picture")


if __name__ == "__main__":
    main()
