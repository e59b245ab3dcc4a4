package io.mm1j.data;

import io.mm1j.Mm1Exception;
import io.mm1j.io.Utf8;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** A reader of a UTF-8 text file consumed line by line, keeping the line number for {@code file:line} messages. */
abstract class LineSampleReader extends SampleReader {
    protected final Path file;
    private final BufferedReader in;
    /** 1-based number of the last line read. */
    protected int line;

    protected LineSampleReader(Path file, SkipReport skips) {
        super(file.toString(), skips);
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": file not found");
        }
        this.file = file;
        try {
            in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The next line, or null at the end of the file. Bytes that are not UTF-8 are an error naming file and line. */
    protected String nextLine() throws IOException {
        String l;
        try {
            l = in.readLine();
        } catch (CharacterCodingException e) {
            throw Utf8.error(file);
        }
        if (l != null) {
            line++;
        }
        return l;
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException ignored) {
            // read-only
        }
    }
}
