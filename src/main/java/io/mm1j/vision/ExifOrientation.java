package io.mm1j.vision;

/**
 * The EXIF orientation tag (TIFF tag 274 in IFD0) of a JPEG, read from its APP1 "Exif\0\0" segment without a
 * metadata library: JPEG markers up to the first SOS, then the TIFF header (byte order "II"/"MM", 42, IFD0 offset)
 * and IFD0's 12-byte entries. Any malformation means "no orientation" (1): a bad EXIF block must not make an
 * otherwise fine photo unreadable.
 */
final class ExifOrientation {
    private static final int TAG_ORIENTATION = 0x0112;

    private ExifOrientation() {}

    /** 1..8, or 1 when absent or unreadable. */
    static int ofJpeg(byte[] b) {
        try {
            int pos = 2; // after SOI
            while (pos + 4 <= b.length && u8(b, pos) == 0xFF) {
                int marker = u8(b, pos + 1);
                if (marker == 0xDA || marker == 0xD9) { // start of scan / end of image: no more headers
                    return 1;
                }
                int len = (u8(b, pos + 2) << 8) | u8(b, pos + 3); // includes the 2 length bytes
                int body = pos + 4;
                if (marker == 0xE1 && len >= 16 && body + 6 <= b.length && b[body] == 'E' && b[body + 1] == 'x'
                        && b[body + 2] == 'i' && b[body + 3] == 'f' && b[body + 4] == 0 && b[body + 5] == 0) {
                    return fromTiff(b, body + 6, Math.min(b.length, pos + 2 + len));
                }
                pos += 2 + len;
            }
        } catch (RuntimeException e) {
            return 1;
        }
        return 1;
    }

    /** Orientation from a TIFF structure at {@code base} .. {@code end}. */
    private static int fromTiff(byte[] b, int base, int end) {
        boolean little = b[base] == 'I' && b[base + 1] == 'I';
        if (!little && !(b[base] == 'M' && b[base + 1] == 'M')) {
            return 1;
        }
        if (u16(b, base + 2, little) != 42) {
            return 1;
        }
        long ifd = base + u32(b, base + 4, little);
        if (ifd + 2 > end) {
            return 1;
        }
        int count = u16(b, (int) ifd, little);
        for (int i = 0; i < count; i++) {
            int e = (int) ifd + 2 + 12 * i;
            if (e + 12 > end) {
                return 1;
            }
            if (u16(b, e, little) == TAG_ORIENTATION) {
                int v = u16(b, e + 8, little); // type SHORT, count 1: the value sits in the first 2 offset bytes
                return v >= 1 && v <= 8 ? v : 1;
            }
        }
        return 1;
    }

    private static int u8(byte[] b, int i) {
        return b[i] & 0xff;
    }

    private static int u16(byte[] b, int i, boolean little) {
        return little ? u8(b, i) | (u8(b, i + 1) << 8) : (u8(b, i) << 8) | u8(b, i + 1);
    }

    private static long u32(byte[] b, int i, boolean little) {
        return little ? (u16(b, i, true) | ((long) u16(b, i + 2, true) << 16))
                : (((long) u16(b, i, false) << 16) | u16(b, i + 2, false));
    }
}
