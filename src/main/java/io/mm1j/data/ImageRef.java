package io.mm1j.data;

import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.RgbImage;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * An image that has not been decoded yet: a file on disk or the bytes of a tar member. Readers hand these out so
 * that decoding (the expensive part) happens on the prefetch workers, not on the reading thread.
 *
 * <p>Decoding goes through {@link ImageIoLoader}, the loader that {@code generate} and {@code eval} use, so training
 * and {@code data check} refuse exactly the same files: empty, truncated, corrupt, or larger than the pixel limit
 * (checked from the header, before decoding).
 *
 * @param name  the dataset's name for the image (file name or tar key), used in messages
 * @param file  the image file, or null when {@code bytes} holds the encoded image
 * @param bytes the encoded image (PNG/JPEG), or null when {@code file} is set
 */
public record ImageRef(String name, Path file, byte[] bytes) {
    static {
        // ImageIO registers its readers lazily; data workers decoding concurrently on first use could find no
        // reader and get null ("unknown format") for a valid PNG. Register once, up front, and decode in memory
        // rather than through temp-file caches shared by the workers.
        ImageIO.scanForPlugins();
        ImageIO.setUseCache(false);
    }

    private static final ImageIoLoader LOADER = new ImageIoLoader();

    public static ImageRef of(Path file) {
        return new ImageRef(file.getFileName().toString(), file, null);
    }

    public static ImageRef of(String name, byte[] bytes) {
        return new ImageRef(name, null, bytes);
    }

    /** Decodes the image to 8-bit RGB (EXIF orientation applied, grey replicated, alpha dropped). */
    public RgbImage decode() {
        return file != null ? LOADER.load(file) : LOADER.decode(bytes, name);
    }

    /** Decodes the image as a {@code TYPE_INT_RGB} image, the input of the training preprocessing hook. */
    public BufferedImage load() {
        RgbImage rgb = decode();
        int w = rgb.width();
        int h = rgb.height();
        byte[] px = rgb.rgb();
        int[] packed = new int[w * h];
        for (int i = 0; i < packed.length; i++) {
            packed[i] = (px[3 * i] & 0xFF) << 16 | (px[3 * i + 1] & 0xFF) << 8 | px[3 * i + 2] & 0xFF;
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, w, h, packed, 0, w);
        return img;
    }
}
