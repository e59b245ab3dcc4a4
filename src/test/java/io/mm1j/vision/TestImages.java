package io.mm1j.vision;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/** Builds image files byte by byte for the loader tests (no binary fixtures in the repository). */
final class TestImages {
    private TestImages() {}

    /** A w×h RGB image whose pixel (x, y) is {@code rgb.at(x, y)}. */
    interface Colour {
        int at(int x, int y);
    }

    static BufferedImage rgb(int w, int h, Colour c) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, c.at(x, y));
            }
        }
        return img;
    }

    static byte[] png(BufferedImage img) {
        return encode(img, "png", false);
    }

    static byte[] jpeg(BufferedImage img, boolean progressive) {
        return encode(img, "jpeg", progressive);
    }

    private static byte[] encode(BufferedImage img, String format, boolean progressive) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageWriter w = ImageIO.getImageWritersByFormatName(format).next();
            ImageWriteParam p = w.getDefaultWriteParam();
            if (format.equals("jpeg")) {
                p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                p.setCompressionQuality(0.95f);
                if (progressive) {
                    p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
                }
            }
            try (MemoryCacheImageOutputStream s = new MemoryCacheImageOutputStream(out)) {
                w.setOutput(s);
                w.write(null, new IIOImage(img, null, null), p);
            }
            w.dispose();
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A 4-channel (CMYK-style) JPEG written from a raw raster: the JDK's own reader refuses these ("Unsupported
     * Image Type"); TwelveMonkeys' reader converts them to RGB.
     */
    static byte[] fourChannelJpeg(int w, int h) {
        java.awt.image.WritableRaster r = java.awt.image.Raster.createInterleavedRaster(
                java.awt.image.DataBuffer.TYPE_BYTE, w, h, 4, null);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                r.setPixel(x, y, new int[] {0, 255, 255, 0});
            }
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageWriter wr = ImageIO.getImageWritersByFormatName("jpeg").next();
            try (MemoryCacheImageOutputStream s = new MemoryCacheImageOutputStream(out)) {
                wr.setOutput(s);
                wr.write(null, new IIOImage(r, null, null), null);
            }
            wr.dispose();
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A JPEG with an APP1 Exif block (big-endian TIFF, IFD0 = {Orientation: value}) right after the APP0. */
    static byte[] withExifOrientation(byte[] jpeg, int orientation) {
        ByteBuffer tiff = ByteBuffer.allocate(26);
        tiff.put((byte) 'M').put((byte) 'M').putShort((short) 42).putInt(8); // header, IFD0 at 8
        tiff.putShort((short) 1); // one entry
        tiff.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0);
        tiff.putInt(0); // no next IFD
        byte[] exif = "Exif\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        int len = 2 + exif.length + tiff.capacity();
        ByteBuffer app1 = ByteBuffer.allocate(2 + len);
        app1.put((byte) 0xFF).put((byte) 0xE1).putShort((short) len).put(exif).put(tiff.array());
        int app0End = 2 + 2 + (((jpeg[4] & 0xff) << 8) | (jpeg[5] & 0xff)); // SOI, APP0 marker, APP0 length
        ByteBuffer out = ByteBuffer.allocate(jpeg.length + app1.capacity());
        out.put(jpeg, 0, app0End).put(app1.array()).put(jpeg, app0End, jpeg.length - app0End);
        return out.array();
    }

    /** A PNG signature and a valid IHDR chunk claiming {@code w×h} RGB, then nothing (no pixel data). */
    static byte[] pngHeaderOnly(int w, int h) {
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(w).putInt(h)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0); // 8-bit RGB
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + 17 + 4);
        b.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        b.putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        return b.array();
    }

    /** SOI, a baseline SOF0 claiming {@code w×h} with 3 components, then nothing. */
    static byte[] jpegHeaderOnly(int w, int h) {
        ByteBuffer b = ByteBuffer.allocate(2 + 19);
        b.put((byte) 0xFF).put((byte) 0xD8);
        b.put((byte) 0xFF).put((byte) 0xC0).putShort((short) 17).put((byte) 8).putShort((short) h).putShort((short) w)
                .put((byte) 3);
        for (int c = 1; c <= 3; c++) {
            b.put((byte) c).put((byte) 0x11).put((byte) 0);
        }
        return b.array();
    }
}
