package io.mm1j.vision;

import io.mm1j.Mm1Exception;
import io.mm1j.io.BoundedFiles;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes image files into {@link RgbImage}s the way the CLIP pipelines see them (PIL {@code Image.open} →
 * {@code exif_transpose} → {@code convert("RGB")}), with the guards a server needs against hostile input.
 *
 * <ul>
 *   <li>Formats: whatever ImageIO reads — JPEG (baseline, progressive; CMYK/YCCK and broken ICC profiles through
 *       TwelveMonkeys' reader, which registers ahead of the JDK's), PNG, GIF, BMP.
 *   <li>Colour: grey (8/16-bit) is replicated to R=G=B from the raster, not through {@code getRGB}, which would
 *       apply Java's linear-grey → sRGB gamma and brighten it; alpha is dropped, as PIL's {@code convert("RGB")}.
 *   <li>EXIF orientation (JPEG APP1 "Exif", tag 274) is applied, so phone photos arrive upright.
 *   <li>Decompression bombs: the header's width × height is checked against {@code maxPixels} <em>before</em> any
 *       pixel is decoded (ImageReader.getWidth/getHeight read the IHDR/SOF only), and so is the aspect ratio: a
 *       163-byte 1×20000 PNG holds few pixels but no useful square crop, and cover-resizing it multiplies its long
 *       side by the encoder's resolution.
 *   <li>Files: regular files only, read whole up to {@code maxFileBytes} ({@code /dev/zero}, a FIFO or a 3 GB file
 *       fail with a message instead of hanging or exhausting memory).
 *   <li>Corrupt, truncated and empty files fail with an {@link Mm1Exception} naming the file. Truncated JPEGs only
 *       raise a decoder <em>warning</em> (the JDK fills the rest grey), so a truncation warning is an error.
 * </ul>
 */
public final class ImageIoLoader {
    /** PIL's {@code Image.MAX_IMAGE_PIXELS} (a 1024 MB 24-bit image / 4 / 3): above it PIL warns of a bomb. */
    public static final long DEFAULT_MAX_PIXELS = 89_478_485L;

    /**
     * Longest side over shortest side accepted: 200, the limit Qwen2-VL's {@code smart_resize} enforces for the
     * same reason (beyond it a square crop keeps under 0.5% of the image).
     */
    public static final int DEFAULT_MAX_ASPECT_RATIO = 200;

    /**
     * Largest image file read: 256 MiB, the order of an uncompressed 89-megapixel image (PIL's bomb limit); real
     * photos are a few MB.
     */
    public static final long DEFAULT_MAX_FILE_BYTES = 256L << 20;

    private static final Logger LOG = LoggerFactory.getLogger(ImageIoLoader.class);

    private final long maxPixels;
    private final int maxAspectRatio;
    private final long maxFileBytes;

    public ImageIoLoader() {
        this(DEFAULT_MAX_PIXELS);
    }

    /** @param maxPixels largest width × height accepted (checked from the header, before decoding) */
    public ImageIoLoader(long maxPixels) {
        this(maxPixels, DEFAULT_MAX_ASPECT_RATIO, DEFAULT_MAX_FILE_BYTES);
    }

    /**
     * @param maxPixels      largest width × height accepted (checked from the header, before decoding)
     * @param maxAspectRatio largest long side / short side accepted (checked from the header)
     * @param maxFileBytes   largest file {@link #load} reads
     */
    public ImageIoLoader(long maxPixels, int maxAspectRatio, long maxFileBytes) {
        if (maxPixels < 1) {
            throw new Mm1Exception("max image pixels must be positive, got " + maxPixels);
        }
        if (maxAspectRatio < 1) {
            throw new Mm1Exception("max image aspect ratio must be >= 1, got " + maxAspectRatio);
        }
        if (maxFileBytes < 1 || maxFileBytes > Integer.MAX_VALUE - 8) {
            throw new Mm1Exception("max image file size must be within [1, 2 GB), got " + maxFileBytes);
        }
        this.maxPixels = maxPixels;
        this.maxAspectRatio = maxAspectRatio;
        this.maxFileBytes = maxFileBytes;
    }

    public long maxPixels() {
        return maxPixels;
    }

    /** Reads (a regular file, at most {@code maxFileBytes}), checks and decodes {@code file}. */
    public RgbImage load(Path file) {
        return decode(BoundedFiles.readAllBytes(file, maxFileBytes, "image file"), file.toString());
    }

    /** Decodes an in-memory image (e.g. a data: URI); {@code name} is used in error messages. */
    public RgbImage decode(byte[] bytes, String name) {
        if (bytes.length == 0) {
            throw new Mm1Exception(name + ": empty file (0 bytes), not an image");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new Mm1Exception(name + ": not a supported image (JPEG, PNG, GIF or BMP expected)");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                BufferedImage img = read(reader, name);
                RgbImage rgb = toRgb(img);
                return isJpeg(bytes) ? rgb.oriented(ExifOrientation.ofJpeg(bytes)) : rgb;
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new Mm1Exception(name + ": cannot read image: " + e.getMessage(), e);
        }
    }

    private BufferedImage read(ImageReader reader, String name) {
        long w;
        long h;
        try {
            w = reader.getWidth(0);
            h = reader.getHeight(0);
        } catch (IOException | RuntimeException e) {
            throw new Mm1Exception(name + ": corrupt image header (" + formatName(reader) + "): " + message(e), e);
        }
        if (w < 1 || h < 1 || w * h > maxPixels) {
            throw new ImageTooLargeException(name + ": image header claims " + w + "x" + h + " = " + w * h
                    + " pixels, above "
                    + "the limit of " + maxPixels + " pixels (refused before decoding)");
        }
        if (Math.max(w, h) > (long) maxAspectRatio * Math.min(w, h)) {
            throw new Mm1Exception(name + ": image header claims " + w + "x" + h + ", an aspect ratio above the limit "
                    + "of " + maxAspectRatio + ":1 (refused before decoding)");
        }
        List<String> warnings = new ArrayList<>();
        reader.addIIOReadWarningListener(new IIOReadWarningListener() {
            @Override
            public void warningOccurred(ImageReader source, String warning) {
                warnings.add(warning);
            }
        });
        BufferedImage img;
        try {
            img = reader.read(0);
        } catch (IOException | RuntimeException e) {
            throw new Mm1Exception(name + ": corrupt or truncated image (" + formatName(reader) + "): " + message(e), e);
        }
        for (String warning : warnings) {
            String w0 = warning.toLowerCase(java.util.Locale.ROOT);
            // The JDK's "Truncated File - Missing EOI marker" / libjpeg's "Premature end of JPEG file" mean pixels
            // are missing; other libjpeg warnings (e.g. "premature end of data segment") are common in web photos
            // that PIL decodes too, so they are only logged.
            if (w0.contains("truncated") || w0.contains("premature end of jpeg file")) {
                throw new Mm1Exception(name + ": truncated image (" + formatName(reader) + "): " + warning);
            }
            LOG.warn("{}: decoder warning: {}", name, warning);
        }
        return img;
    }

    private static String formatName(ImageReader reader) {
        try {
            return reader.getFormatName().toUpperCase(java.util.Locale.ROOT);
        } catch (IOException e) {
            return "?";
        }
    }

    private static String message(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    static boolean isJpeg(byte[] b) {
        return b.length > 2 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8;
    }

    /** Any decoded image → interleaved 8-bit RGB (grey replicated, alpha dropped, 16-bit scaled to 8). */
    public static RgbImage toRgb(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] out = new byte[w * h * 3];
        ColorSpace cs = img.getColorModel().getColorSpace();
        if (cs.getType() == ColorSpace.TYPE_GRAY) {
            Raster r = img.getRaster();
            int bits = img.getColorModel().getComponentSize(0);
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                r.getSamples(0, y, w, 1, 0, row);
                for (int x = 0; x < w; x++) {
                    byte v = (byte) (bits > 8 ? row[x] >> (bits - 8) : bits < 8 ? row[x] * 255 / ((1 << bits) - 1)
                            : row[x]);
                    int o = (y * w + x) * 3;
                    out[o] = v;
                    out[o + 1] = v;
                    out[o + 2] = v;
                }
            }
        } else {
            int[] argb = new int[w];
            for (int y = 0; y < h; y++) {
                img.getRGB(0, y, w, 1, argb, 0, w); // sRGB, whatever the source model (CMYK converted by the reader)
                for (int x = 0; x < w; x++) {
                    int o = (y * w + x) * 3;
                    out[o] = (byte) (argb[x] >> 16);
                    out[o + 1] = (byte) (argb[x] >> 8);
                    out[o + 2] = (byte) argb[x];
                }
            }
        }
        return new RgbImage(w, h, out);
    }
}
