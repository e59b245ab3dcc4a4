#!/usr/bin/env python3
"""Independent reference numbers for mm1j's CLIP preprocessing (ImagePreprocessorTest).

Written from the specs, not from mm1j's Java: PIL's Resample.c bicubic (a = -0.5, support 2 scaled by the
downsampling factor, taps outside the image dropped and the rest renormalised), HF CLIPImageProcessor's
shortest-edge resize (int(S * long / short)) and floor center crop, CLIP mean/std. Only numpy is needed.

  python3 preprocess_reference.py [COCO_JPEG]    # writes synthetic.png and preprocess_reference.json here

COCO_JPEG (optional, default ../../../../shared/data/coco-mini/images/000000000139.jpg relative to this file) is
decoded with libjpeg-turbo's `djpeg -ppm` (package libjpeg-turbo-progs), so the JPEG case is also independent of
Java's decoder; the test tolerates the decoder difference it measures (see "decode" in the JSON).

For each case the JSON holds per-channel means and sampled values of PIL's 8-bit pipeline (horizontal pass, round
half up, clip to 0..255, then the vertical pass likewise — what HF feeds CLIP and what mm1j emulates), and
`unroundedMaxAbsDiff`: how far the same resize without the intermediate rounding and clipping would land, in
normalised units (why mm1j emulates both).
"""
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])


def cubic(x, a=-0.5):
    x = abs(x)
    if x < 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def pil_weights(n_in, n_out):
    """(n_out, n_in) matrix of PIL's bicubic resampling coefficients."""
    w = np.zeros((n_out, n_in))
    scale = n_in / n_out
    fscale = max(scale, 1.0)
    support = 2.0 * fscale
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo = max(0, int(center - support + 0.5))
        hi = min(n_in, int(center + support + 0.5))
        k = np.array([cubic((x - center + 0.5) / fscale) for x in range(lo, hi)])
        w[i, lo:hi] = k / k.sum()
    return w


def clip_preprocess(img, size):
    """img (H, W, 3) uint8 → (PIL 8-bit pipeline (3,S,S), unrounded float pipeline (3,S,S)), both normalised."""
    h, w, _ = img.shape
    short, long_ = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long_ / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    wy, wx = pil_weights(h, new_h), pil_weights(w, new_w)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = img.astype(np.float64)
    full = np.einsum("yh,hwc,xw->cyx", wy, x, wx)
    flt = np.clip(full, 0, 255)[:, top:top + size, left:left + size]
    horiz = np.clip(np.floor(np.einsum("hwc,xw->hxc", x, wx) + 0.5), 0, 255)  # PIL: horizontal pass first
    both = np.clip(np.floor(np.einsum("yh,hxc->cyx", wy, horiz) + 0.5), 0, 255)[:, top:top + size, left:left + size]
    norm = lambda v: (v / 255.0 - MEAN[:, None, None]) / STD[:, None, None]
    return norm(both), norm(flt)


def case(name, source, img, size, rng):
    ref, unrounded = clip_preprocess(img, size)
    samples = []
    for _ in range(40):
        c, y, x = int(rng.integers(3)), int(rng.integers(size)), int(rng.integers(size))
        samples.append([c, y, x, round(float(ref[c, y, x]), 7)])
    return {"name": name, "source": source, "width": img.shape[1], "height": img.shape[0], "size": size,
            "mean": [round(float(m), 7) for m in ref.reshape(3, -1).mean(axis=1)], "samples": samples,
            "unroundedMaxAbsDiff": round(float(np.abs(ref - unrounded).max()), 5)}


def write_png(path, img):
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def read_ppm(data):
    parts, pos = [], 0
    while len(parts) < 4:  # magic, width, height, maxval (no comments in djpeg output)
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    assert parts[0] == b"P6" and parts[3] == b"255"
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(data[pos + 1:pos + 1 + w * h * 3], dtype=np.uint8).reshape(h, w, 3)


def synthetic():
    y, x = np.mgrid[0:47, 0:61]
    r = (x * 7 + y * 3) % 256
    g = 128 + 127 * np.sin(x / 5.0) * np.cos(y / 7.0)
    b = (x * y * 5) % 256
    return np.stack([r, g, b], axis=-1).round().astype(np.uint8)


def main():
    rng = np.random.default_rng(0)
    img = synthetic()
    write_png(os.path.join(HERE, "synthetic.png"), img)
    out = {"cases": [case("synthetic-down-32", "synthetic.png", img, 32, rng),
                     case("synthetic-up-96", "synthetic.png", img, 96, rng)]}
    jpeg = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "../../../../../shared/data/coco-mini/images/000000000139.jpg")
    if os.path.exists(jpeg):
        pix = read_ppm(subprocess.run(["djpeg", "-ppm", jpeg], check=True, capture_output=True).stdout)
        src = "coco-mini/images/" + os.path.basename(jpeg)
        out["cases"].append(case("coco-224", src, pix, 224, rng))
        h, w, _ = pix.shape
        dec = [[int(yy), int(xx), int(cc), int(pix[yy, xx, cc])]
               for yy, xx, cc in zip(rng.integers(h, size=60), rng.integers(w, size=60), rng.integers(3, size=60))]
        out["decode"] = {"source": src, "decoder": "djpeg (libjpeg-turbo) -ppm", "width": w, "height": h,
                         "mean": [round(float(m), 4) for m in pix.reshape(-1, 3).mean(axis=0)], "samples": dec}
    with open(os.path.join(HERE, "preprocess_reference.json"), "w") as f:
        json.dump(out, f, indent=1)
    for c in out["cases"]:
        print(c["name"], c["mean"], "unrounded float pipeline differs by", c["unroundedMaxAbsDiff"])


if __name__ == "__main__":
    main()
