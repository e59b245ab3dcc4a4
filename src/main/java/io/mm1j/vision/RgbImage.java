package io.mm1j.vision;

import io.mm1j.Mm1Exception;

/**
 * A decoded 8-bit RGB image: {@code rgb} holds {@code height × width × 3} bytes, row-major, channels interleaved
 * (HWC, as PIL's {@code tobytes()} of an RGB image) — the one format preprocessing starts from.
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width < 1 || height < 1 || rgb.length != (long) width * height * 3) {
            throw new Mm1Exception("RgbImage: " + rgb.length + " bytes do not hold " + width + "x" + height + " RGB");
        }
    }

    /** Channel {@code c} (0 = R) of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xff;
    }

    /**
     * This image transformed by an EXIF orientation (TIFF tag 274): 1 = as stored, 2 = mirrored, 3 = rotated 180°,
     * 4 = flipped vertically, 5 = transposed, 6 = needs 90° clockwise, 7 = transversed, 8 = needs 90°
     * counter-clockwise (what {@code PIL.ImageOps.exif_transpose} does). Unknown values leave it unchanged.
     */
    public RgbImage oriented(int orientation) {
        if (orientation < 2 || orientation > 8) {
            return this;
        }
        boolean swap = orientation >= 5;
        int ow = swap ? height : width;
        int oh = swap ? width : height;
        byte[] out = new byte[rgb.length];
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                int sx;
                int sy;
                switch (orientation) {
                    case 2 -> { sx = width - 1 - x; sy = y; }
                    case 3 -> { sx = width - 1 - x; sy = height - 1 - y; }
                    case 4 -> { sx = x; sy = height - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = height - 1 - x; }
                    case 7 -> { sx = width - 1 - y; sy = height - 1 - x; }
                    default -> { sx = width - 1 - y; sy = x; } // 8
                }
                System.arraycopy(rgb, (sy * width + sx) * 3, out, (y * ow + x) * 3, 3);
            }
        }
        return new RgbImage(ow, oh, out);
    }
}
