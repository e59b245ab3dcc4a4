#!/usr/bin/python3
"""PIL's own bicubic resizes of 8-bit RGB test patterns, for PilResizeTest (mm1j's fixed-point port must match
them bit for bit). Run with Debian's interpreter (Pillow 9.4, numpy):

    /usr/bin/python3 scripts/pil_resize_reference.py src/test/resources/vision/pil_resize.json

The input of each case is a pattern both sides compute with integer arithmetic (no image file):
    level(x, y, c) = (x * 7 + y * 13 + c * 29 + ((x * y + c) % 17) * 11 + (x * x + 3 * y) % 23) % 256
Output: resized (out_w, out_h) levels, row-major (y, x, c), base64.
"""
import base64
import json
import sys

import numpy as np
from PIL import Image

CASES = [  # (in_w, in_h, out_w, out_h): down both axes, up, mixed, strong antialiasing, odd sizes
    (71, 50, 59, 42), (45, 64, 42, 59), (61, 30, 57, 28), (17, 23, 40, 56), (300, 200, 42, 28),
    (33, 97, 28, 82), (64, 45, 42, 29), (40, 40, 70, 70)]


def pattern(w, h):
    y, x = np.mgrid[0:h, 0:w]
    chans = [(x * 7 + y * 13 + c * 29 + ((x * y + c) % 17) * 11 + (x * x + 3 * y) % 23) % 256 for c in range(3)]
    return np.stack(chans, -1).astype(np.uint8)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "src/test/resources/vision/pil_resize.json"
    cases = []
    for iw, ih, ow, oh in CASES:
        img = Image.fromarray(pattern(iw, ih), "RGB").resize((ow, oh), Image.BICUBIC)
        cases.append({"in": [iw, ih], "out": [ow, oh],
                      "levels": base64.b64encode(np.asarray(img).tobytes()).decode()})
    with open(out, "w") as f:
        json.dump({"pillow": Image.__version__, "cases": cases}, f)


if __name__ == "__main__":
    main()
