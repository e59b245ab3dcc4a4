package io.mm1j.data;

import io.mm1j.Mm1Exception;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * An image that has not been decoded yet: a file on disk or the bytes of a tar member. Readers hand these out so
 * that decoding (the expensive part) happens on the prefetch workers, not on the reading thread.
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

    public static ImageRef of(Path file) {
        return new ImageRef(file.getFileName().toString(), file, null);
    }

    public static ImageRef of(String name, byte[] bytes) {
        return new ImageRef(name, null, bytes);
    }

    /** Decodes the image (PNG, JPEG incl. CMYK via TwelveMonkeys). */
    public BufferedImage load() {
        try (InputStream in = file != null ? Files.newInputStream(file) : new ByteArrayInputStream(bytes)) {
            BufferedImage img = ImageIO.read(in);
            if (img == null) {
                throw new Mm1Exception(where() + ": not a readable image (unknown format)");
            }
            return img;
        } catch (IOException e) {
            throw new Mm1Exception(where() + ": cannot decode image: " + e.getMessage(), e);
        }
    }

    private String where() {
        return file != null ? file.toString() : name;
    }
}
