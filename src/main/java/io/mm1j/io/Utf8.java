package io.mm1j.io;

import io.mm1j.Mm1Exception;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a file stops being UTF-8, for messages. Java's decoders say only "Input length = 1" and, behind a
 * {@code BufferedReader}, fail up to 8192 characters ahead of the line being read; this validator finds the line
 * and byte offset of the first malformed sequence. It is run only after a decoder or parser has failed.
 *
 * <p>Rules: the well-formed byte sequences of Unicode 15, Table 3-7 (the ones Java's UTF-8 decoder accepts): no
 * overlong forms, no surrogates (ED A0..BF), nothing above U+10FFFF.
 */
public final class Utf8 {
    private Utf8() {}

    /** Position of the first malformed byte: 0-based byte offset and 1-based line. */
    public record Position(long offset, long line) {}

    /** The first malformed position in {@code file}, or null when the whole file is well-formed UTF-8. */
    public static Position firstMalformed(Path file) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            return firstMalformed(in);
        }
    }

    /** The first malformed position in the stream, or null when it is well-formed to its end. */
    public static Position firstMalformed(InputStream in) throws IOException {
        long offset = 0;
        long line = 1;
        long start = 0; // offset of the lead byte of the sequence being checked
        int need = 0; // continuation bytes still expected
        int lo = 0x80; // allowed range of the next continuation byte
        int hi = 0xBF;
        int b;
        while ((b = in.read()) >= 0) {
            if (need > 0) {
                if (b < lo || b > hi) {
                    return new Position(start, line);
                }
                need--;
                lo = 0x80;
                hi = 0xBF;
            } else if (b < 0x80) {
                if (b == '\n') {
                    line++;
                }
            } else {
                start = offset;
                if (b >= 0xC2 && b <= 0xDF) {
                    need = 1;
                } else if (b >= 0xE0 && b <= 0xEF) {
                    need = 2;
                    lo = b == 0xE0 ? 0xA0 : 0x80;
                    hi = b == 0xED ? 0x9F : 0xBF;
                } else if (b >= 0xF0 && b <= 0xF4) {
                    need = 3;
                    lo = b == 0xF0 ? 0x90 : 0x80;
                    hi = b == 0xF4 ? 0x8F : 0xBF;
                } else {
                    return new Position(offset, line);
                }
            }
            offset++;
        }
        return need > 0 ? new Position(start, line) : null;
    }

    /**
     * The error for a file that a decoder or parser rejected as UTF-8: "FILE:LINE: not valid UTF-8 text (byte
     * offset N)", or null when the file is well-formed (the failure was something else).
     */
    public static Mm1Exception errorOrNull(Path file) {
        try {
            Position p = firstMalformed(file);
            return p == null ? null : new Mm1Exception(file + ":" + p.line() + ": not valid UTF-8 text (byte offset "
                    + p.offset() + ")");
        } catch (IOException e) {
            return null;
        }
    }

    /** {@link #errorOrNull}, falling back to a message without a position. */
    public static Mm1Exception error(Path file) {
        Mm1Exception e = errorOrNull(file);
        return e != null ? e : new Mm1Exception(file + ": not valid UTF-8 text");
    }
}
