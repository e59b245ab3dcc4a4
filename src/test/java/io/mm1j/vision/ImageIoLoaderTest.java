package io.mm1j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageIoLoaderTest {
    private static final int RED = 0xDC1E1E;
    private static final int BLUE = 0x1E28C8;

    @TempDir
    Path dir;

    private final ImageIoLoader loader = new ImageIoLoader();

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    /** Left half red, right half blue. */
    private static BufferedImage halves(int w, int h) {
        return TestImages.rgb(w, h, (x, y) -> x < w / 2 ? RED : BLUE);
    }

    /** Random-looking pixels so that JPEG data is long (for truncation). */
    private static BufferedImage noise(int w, int h) {
        return TestImages.rgb(w, h, (x, y) -> (x * 7919 + y * 104729) * 2654435761L > 0 ? (x * 31 + y * 17) * 99991
                : (x ^ y) * 40503);
    }

    private static void assertColour(RgbImage img, int x, int y, int rgb, int tolerance) {
        for (int c = 0; c < 3; c++) {
            int expected = (rgb >> (16 - 8 * c)) & 0xff;
            assertTrue(Math.abs(img.get(x, y, c) - expected) <= tolerance,
                    "pixel (" + x + "," + y + ") channel " + c + ": " + img.get(x, y, c) + " vs " + expected);
        }
    }

    @Test
    void pngRgbDecodesExactly() throws IOException {
        BufferedImage src = TestImages.rgb(5, 3, (x, y) -> (x * 50) << 16 | (y * 80) << 8 | (x + y) * 20);
        RgbImage img = loader.load(write("a.png", TestImages.png(src)));
        assertEquals(5, img.width());
        assertEquals(3, img.height());
        assertColour(img, 4, 2, (200 << 16) | (160 << 8) | 120, 0);
    }

    @Test
    void greyPngIsReplicatedWithoutGammaAndAlphaIsDropped() throws IOException {
        BufferedImage grey = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSample(0, 0, 0, 64);
        grey.getRaster().setSample(1, 0, 0, 200);
        RgbImage g = loader.load(write("g.png", TestImages.png(grey)));
        assertColour(g, 0, 0, 0x404040, 0); // Java's getRGB would give 0x8A8A8A (linear grey → sRGB)
        assertColour(g, 1, 0, 0xC8C8C8, 0);
        BufferedImage rgba = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB);
        rgba.setRGB(0, 0, 0x00336699); // fully transparent
        assertColour(loader.load(write("a.png", TestImages.png(rgba))), 0, 0, 0x336699, 0);
    }

    @Test
    void progressiveJpegDecodes() throws IOException {
        RgbImage img = loader.load(write("p.jpg", TestImages.jpeg(halves(32, 16), true)));
        assertEquals(32, img.width());
        assertColour(img, 4, 8, RED, 6);
        assertColour(img, 28, 8, BLUE, 6);
    }

    @Test
    void fourChannelCmykJpegDecodesToRgbThroughTwelveMonkeys() throws IOException {
        assertTrue(javax.imageio.ImageIO.getImageReadersByFormatName("jpeg").next().getClass().getName()
                .startsWith("com.twelvemonkeys."), "TwelveMonkeys' JPEG reader must come first");
        RgbImage img = loader.load(write("cmyk.jpg", TestImages.fourChannelJpeg(16, 8)));
        assertEquals(16, img.width());
        assertEquals(8, img.height());
    }

    @Test
    void exifOrientationSixTurnsThePhotoUpright() throws IOException {
        byte[] jpeg = TestImages.withExifOrientation(TestImages.jpeg(halves(32, 16), false), 6);
        RgbImage img = loader.load(write("o.jpg", jpeg));
        assertEquals(16, img.width()); // rotated 90° clockwise: the left (red) half is now on top
        assertEquals(32, img.height());
        assertColour(img, 8, 4, RED, 6);
        assertColour(img, 8, 28, BLUE, 6);
    }

    @Test
    void orientationsMatchTheirDefinitions() {
        RgbImage src = new RgbImage(2, 1, new byte[] {1, 1, 1, 2, 2, 2}); // [1 2]
        assertEquals("[2, 2, 2, 1, 1, 1]", Arrays.toString(src.oriented(2).rgb())); // mirrored
        assertEquals(1, src.oriented(6).width());
        assertEquals("[1, 1, 1, 2, 2, 2]", Arrays.toString(src.oriented(6).rgb())); // column: 1 on top
        assertEquals("[2, 2, 2, 1, 1, 1]", Arrays.toString(src.oriented(8).rgb())); // column: 2 on top
    }

    @Test
    void emptyFileIsRefused() throws IOException {
        Path f = write("empty.jpg", new byte[0]);
        assertEquals(f + ": empty file (0 bytes), not an image",
                assertThrows(Mm1Exception.class, () -> loader.load(f)).getMessage());
    }

    @Test
    void missingFileIsRefused() {
        Path f = dir.resolve("nope.png");
        assertEquals(f + ": image file not found", assertThrows(Mm1Exception.class, () -> loader.load(f)).getMessage());
    }

    @Test
    void garbageIsNotAnImage() throws IOException {
        Path f = write("x.jpg", "this is not an image at all".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(f + ": not a supported image (JPEG, PNG, GIF or BMP expected)",
                assertThrows(Mm1Exception.class, () -> loader.load(f)).getMessage());
    }

    @Test
    void truncatedJpegAndPngAreRefused() throws IOException {
        byte[] jpeg = TestImages.jpeg(noise(64, 64), false);
        Path j = write("t.jpg", Arrays.copyOf(jpeg, jpeg.length / 2));
        String jm = assertThrows(Mm1Exception.class, () -> loader.load(j)).getMessage();
        assertEquals(j + ": truncated image (JPEG): Truncated File - Missing EOI marker", jm);
        byte[] png = TestImages.png(noise(64, 64));
        Path p = write("t.png", Arrays.copyOf(png, png.length / 2));
        String pm = assertThrows(Mm1Exception.class, () -> loader.load(p)).getMessage();
        assertEquals(p + ": corrupt or truncated image (PNG): Error reading PNG image data", pm);
    }

    @Test
    void corruptJpegBodyIsRefused() throws IOException {
        byte[] jpeg = TestImages.jpeg(noise(64, 64), false);
        byte[] bad = jpeg.clone();
        for (int i = 200; i < bad.length - 2; i++) {
            bad[i] = (byte) 0xFF; // every later byte a marker prefix
        }
        Path f = write("c.jpg", bad);
        String m = assertThrows(Mm1Exception.class, () -> loader.load(f)).getMessage();
        assertEquals(f + ": corrupt or truncated image (JPEG): No image data present to read", m);
    }

    @Test
    void headersClaiming60000SquaredAreRefusedBeforeDecoding() throws IOException {
        for (String ext : new String[] {"png", "jpg"}) {
            byte[] header = ext.equals("png") ? TestImages.pngHeaderOnly(60000, 60000)
                    : TestImages.jpegHeaderOnly(60000, 60000);
            Path f = write("bomb." + ext, header);
            assertEquals(f + ": image header claims 60000x60000 = 3600000000 pixels, above the limit of 89478485 "
                    + "pixels (refused before decoding)", assertThrows(Mm1Exception.class, () -> loader.load(f))
                    .getMessage());
        }
        Path small = write("s.png", TestImages.png(halves(20, 10)));
        assertEquals(small + ": image header claims 20x10 = 200 pixels, above the limit of 199 pixels (refused before "
                + "decoding)", assertThrows(Mm1Exception.class, () -> new ImageIoLoader(199).load(small)).getMessage());
        assertEquals(20, new ImageIoLoader(200).load(small).width());
    }

    @Test
    void aOnePixelHighPanoramaIsRefusedFromItsHeaderByAspectRatio() throws IOException {
        byte[] png = TestImages.png(TestImages.rgb(20000, 1, (x, y) -> RED));
        assertTrue(png.length < 400, "a 20000x1 PNG is tiny: " + png.length + " bytes");
        Path f = write("wide.png", png);
        assertEquals(f + ": image header claims 20000x1, an aspect ratio above the limit of 200:1 (refused before "
                + "decoding)", assertThrows(Mm1Exception.class, () -> loader.load(f)).getMessage());
        Path tall = write("tall.png", TestImages.pngHeaderOnly(1, 201));
        assertEquals(tall + ": image header claims 1x201, an aspect ratio above the limit of 200:1 (refused before "
                + "decoding)", assertThrows(Mm1Exception.class, () -> loader.load(tall)).getMessage());
        assertEquals(200, loader.load(write("ok.png", TestImages.png(halves(200, 1)))).width());
    }

    @Test
    void onlyRegularFilesUpToTheSizeLimitAreRead() throws IOException {
        Path zero = Path.of("/dev/zero");
        assertEquals("/dev/zero: image file is a device, FIFO or socket, not a regular file",
                assertThrows(Mm1Exception.class, () -> loader.load(zero)).getMessage());
        assertEquals(dir + ": image file is a folder, not a regular file",
                assertThrows(Mm1Exception.class, () -> loader.load(dir)).getMessage());
        Path big = dir.resolve("big.jpg");
        try (java.io.RandomAccessFile r = new java.io.RandomAccessFile(big.toFile(), "rw")) {
            r.setLength(3L << 30); // sparse: 3 GB claimed, nothing written
        }
        assertEquals(big + ": image file is 3221225472 bytes, above the limit of 268435456 bytes",
                assertThrows(Mm1Exception.class, () -> loader.load(big)).getMessage());
        Path small = write("s.png", TestImages.png(halves(20, 10)));
        long size = Files.size(small);
        ImageIoLoader tight = new ImageIoLoader(ImageIoLoader.DEFAULT_MAX_PIXELS, 200, size - 1);
        assertEquals(small + ": image file is " + size + " bytes, above the limit of " + (size - 1) + " bytes",
                assertThrows(Mm1Exception.class, () -> tight.load(small)).getMessage());
        assertEquals(20, new ImageIoLoader(ImageIoLoader.DEFAULT_MAX_PIXELS, 200, size).load(small).width());
    }

    @Test
    void aFifoIsRefusedWithoutOpeningIt() throws Exception {
        Path fifo = dir.resolve("pipe.png");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo is not available");
        assertEquals(fifo + ": image file is a device, FIFO or socket, not a regular file",
                assertThrows(Mm1Exception.class, () -> loader.load(fifo)).getMessage());
    }
}
