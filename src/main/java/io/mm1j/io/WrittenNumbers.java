package io.mm1j.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The numbers with a fraction or an exponent in a JSON text, as the user wrote them ({@code 1e2}, {@code 32.50}), by
 * JSON pointer ({@code /train/steps}, {@code /data/sources/0/weight}). Jackson's tree keeps only the double
 * ({@code 100.0}), which an error message should not quote back as if the user had typed it.
 */
public final class WrittenNumbers {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private WrittenNumbers() {}

    /** Every floating-point number of {@code json}; empty when it is not JSON (a plain {@code --set} string). */
    public static Map<String, String> of(String json) {
        Map<String, String> out = new LinkedHashMap<>();
        try (JsonParser p = JSON.createParser(json)) {
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                if (t == JsonToken.VALUE_NUMBER_FLOAT) {
                    out.put(p.getParsingContext().pathAsPointer().toString(), p.getText());
                }
            }
        } catch (IOException e) {
            return Map.of(); // not JSON: nothing was written as a number
        }
        return out;
    }

    /** {@link #of} a file's text; empty when it cannot be read (messages then quote the parsed values). */
    public static Map<String, String> in(Path file) {
        try {
            return of(Files.readString(file));
        } catch (IOException e) {
            return Map.of();
        }
    }

    /** The JSON pointer of a dotted key: {@code train.steps} → {@code /train/steps}. */
    public static String pointer(String dotted) {
        return "/" + dotted.replace("~", "~0").replace("/", "~1").replace('.', '/');
    }

    /** Whether {@code pointer} is {@code under} or inside it. */
    public static boolean isUnder(String pointer, String under) {
        return pointer.equals(under) || pointer.startsWith(under + "/");
    }

    /** The entries under {@code prefix} with the prefix taken off ({@code /model/vision/width} → {@code /width}). */
    public static Map<String, String> under(Map<String, String> written, String prefix) {
        Map<String, String> out = new LinkedHashMap<>();
        written.forEach((k, v) -> {
            if (k.startsWith(prefix + "/")) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }

    /** {@code from}'s entries placed under {@code prefix} ({@code /width} → {@code /vision/width}). */
    public static Map<String, String> placed(Map<String, String> from, String prefix) {
        Map<String, String> out = new LinkedHashMap<>();
        from.forEach((k, v) -> out.put(prefix + k, v));
        return out;
    }
}
