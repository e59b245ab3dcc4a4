package io.mm1j.data;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Text-only data. A {@code .jsonl} file gives one document per line (its "text" field, the format of most web
 * text dumps); any other file is plain text whose blank-line-separated paragraphs are joined into documents of
 * about {@code targetChars} characters (a book or a script has no document boundaries of its own, and one packed
 * sequence should see more than a single line of dialogue).
 */
public final class TextReader extends LineSampleReader {
    private final boolean jsonl;
    private final int targetChars;

    public TextReader(Path file, int targetChars, SkipReport skips) {
        super(file, skips);
        this.jsonl = file.getFileName().toString().endsWith(".jsonl");
        this.targetChars = targetChars;
    }

    @Override
    protected Sample readNext() {
        try {
            return jsonl ? nextJsonl() : nextPlain();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ":" + line, e);
        }
    }

    private Sample nextJsonl() throws IOException {
        String l;
        while ((l = nextLine()) != null) {
            if (l.isBlank()) {
                continue;
            }
            String where = file + ":" + line;
            try {
                var node = Json.MAPPER.readTree(l);
                if (!node.path("text").isTextual()) {
                    skips.skip(SkipReport.BAD_RECORD, where, "no \"text\" field");
                    continue;
                }
                String id = node.path("id").isValueNode() ? node.get("id").asText() : String.valueOf(line);
                return new Sample.Text(id, node.get("text").asText());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                skips.skip(SkipReport.CORRUPT_JSON, where, e.getOriginalMessage());
            }
        }
        return null;
    }

    private Sample nextPlain() throws IOException {
        StringBuilder doc = new StringBuilder();
        int start = line + 1;
        String l;
        boolean blank = false;
        while ((l = nextLine()) != null) {
            if (l.isBlank()) {
                blank = true;
                if (doc.length() >= targetChars) {
                    break;
                }
                continue;
            }
            if (blank && doc.length() > 0) {
                doc.append('\n');
            }
            blank = false;
            doc.append(l).append('\n');
            if (doc.length() >= 2 * targetChars) {
                break; // text without blank lines: cut at a line end rather than read the whole file as one sample
            }
        }
        if (doc.length() == 0) {
            return null;
        }
        return new Sample.Text(file.getFileName() + ":" + start, doc.toString().strip());
    }
}
