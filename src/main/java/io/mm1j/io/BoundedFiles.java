package io.mm1j.io;

import io.mm1j.Mm1Exception;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Whole-file reads with a size limit, of regular files only: the rule for every file that is read into memory at
 * once (an image, a tokenizer.json, a config). {@code Files.readAllBytes} on {@code /dev/zero} never ends, on a
 * FIFO it blocks until a writer comes, and on a 3 GB file it ends in an OutOfMemoryError; here each is one clear
 * {@link Mm1Exception} naming the file, raised before anything is allocated.
 */
public final class BoundedFiles {
    private BoundedFiles() {}

    /**
     * Checks that {@code file} is a regular file (symbolic links followed) of at most {@code maxBytes} bytes, and
     * returns its size.
     *
     * @param what what the file is, for messages ("image file", "tokenizer file")
     */
    public static long checkRegular(Path file, long maxBytes, String what) {
        if (!Files.exists(file)) {
            throw new Mm1Exception(file + ": " + what + " not found");
        }
        if (Files.isDirectory(file)) {
            throw new Mm1Exception(file + ": " + what + " is a folder, not a regular file");
        }
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": " + what + " is a device, FIFO or socket, not a regular file");
        }
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot read " + what + ": " + e.getMessage(), e);
        }
        if (size > maxBytes) {
            throw new Mm1Exception(file + ": " + what + " is " + size + " bytes, above the limit of " + maxBytes
                    + " bytes");
        }
        return size;
    }

    /**
     * The bytes of a regular file of at most {@code maxBytes} bytes. The limit also holds while reading, so a file
     * that grows after the size check cannot make the read unbounded.
     */
    public static byte[] readAllBytes(Path file, long maxBytes, String what) {
        if (maxBytes < 0 || maxBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("maxBytes " + maxBytes + " does not fit a Java array");
        }
        long size = checkRegular(file, maxBytes, what);
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[(int) Math.max(size, 8192)];
            int n = 0;
            while (true) {
                if (n == buf.length) {
                    if (n > maxBytes) {
                        break;
                    }
                    buf = Arrays.copyOf(buf, (int) Math.min((long) n * 2, maxBytes + 1));
                }
                int r = in.read(buf, n, buf.length - n);
                if (r < 0) {
                    break;
                }
                n += r;
            }
            if (n > maxBytes) {
                throw new Mm1Exception(file + ": " + what + " grew beyond the limit of " + maxBytes
                        + " bytes while being read");
            }
            return n == buf.length ? buf : Arrays.copyOf(buf, n);
        } catch (NoSuchFileException e) {
            throw new Mm1Exception(file + ": " + what + " not found");
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot read " + what + ": " + e.getMessage(), e);
        }
    }

    /** A regular file of at most {@code maxBytes} bytes as text; malformed UTF-8 is an error naming the file. */
    public static String readUtf8(Path file, long maxBytes, String what) {
        return decodeUtf8(readAllBytes(file, maxBytes, what), file.toString());
    }

    /**
     * Strict UTF-8 decoding ({@code new String(bytes, UTF_8)} would replace bad bytes with U+FFFD silently).
     *
     * @param name the source, for the message
     */
    public static String decodeUtf8(byte[] bytes, String name) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            Utf8.Position p;
            try {
                p = Utf8.firstMalformed(new ByteArrayInputStream(bytes));
            } catch (IOException impossible) {
                throw new IllegalStateException(impossible);
            }
            throw new Mm1Exception(name + (p == null ? "" : ":" + p.line()) + ": not valid UTF-8 text"
                    + (p == null ? "" : " (byte offset " + p.offset() + ")"));
        }
    }
}
