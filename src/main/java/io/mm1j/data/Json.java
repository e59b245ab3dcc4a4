package io.mm1j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.Mm1Exception;
import io.mm1j.io.Utf8;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Set;

/** Small JSON helpers shared by the readers (one ObjectMapper, field checks that report to a {@link SkipReport}). */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {}

    /** Reads a whole JSON file (COCO and VQAv2 files are single objects). */
    static JsonNode readFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": file not found");
        }
        try {
            return MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            Mm1Exception utf8 = Utf8.errorOrNull(file); // Jackson's own message gives neither line nor offset
            throw utf8 != null ? utf8 : new Mm1Exception(file + ": not valid JSON: " + getOriginalMessage(e));
        }
    }

    /**
     * Reports each field of {@code node} not in {@code known}. Unknown fields are reported rather than ignored
     * because they usually mean a different format variant than the reader assumes (e.g. OBELICS keys in an mmc4
     * file); the record itself is still used in lenient mode.
     */
    static void checkFields(JsonNode node, Set<String> known, String where, SkipReport skips) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) {
                skips.skip(SkipReport.UNKNOWN_FIELD, where, "'" + f + "'");
            }
        }
    }

    private static String getOriginalMessage(IOException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
    }
}
