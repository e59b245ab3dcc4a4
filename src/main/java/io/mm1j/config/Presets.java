package io.mm1j.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mm1j.Mm1Exception;
import io.mm1j.io.BoundedFiles;
import io.mm1j.io.Utf8;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;

/** Named model presets shipped in {@code src/main/resources/presets/NAME.json}, and config JSON (de)serialisation. */
public final class Presets {
    /** Every shipped preset, smallest first. */
    public static final List<String> NAMES = List.of("tiny-test", "mini", "ablation-1.2b", "mm1-3b", "mm1-7b",
            "mm1-30b", "mm1-3b-moe", "mm1-7b-moe");

    /**
     * Config (de)serialisation. Reading is strict about numbers: Jackson would otherwise truncate
     * {@code "hiddenSize": 32.5} to 32 and read {@code "32"} as 32, silently building a different model.
     */
    public static final ObjectMapper JSON = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build();

    /** Largest config file read (configs are a few kB; this only stops a wrong path from being read whole). */
    public static final long MAX_CONFIG_BYTES = 16L << 20;

    private Presets() {}

    public static Mm1Config load(String name) {
        try (InputStream in = Presets.class.getResourceAsStream("/presets/" + name + ".json")) {
            if (in == null) {
                throw new Mm1Exception("unknown preset '" + name + "'; known presets: " + String.join(", ", NAMES));
            }
            return bind(JSON.readTree(in), "preset " + name);
        } catch (IOException e) {
            throw configError("preset " + name, null, e);
        }
    }

    /** Reads an mm1j config JSON file (the format {@link #toJson} writes). */
    public static Mm1Config read(Path file) {
        BoundedFiles.checkRegular(file, MAX_CONFIG_BYTES, "config file");
        JsonNode tree;
        try {
            tree = JSON.readTree(file.toFile());
        } catch (IOException e) {
            Mm1Exception utf8 = Utf8.errorOrNull(file);
            throw utf8 != null ? utf8 : configError(file.toString(), null, e);
        }
        return bind(tree, file.toString());
    }

    /** The config in {@code tree}; parsed first so that a message can quote the offending value. */
    public static Mm1Config bind(JsonNode tree, String source) {
        if (tree == null || !tree.isObject()) {
            throw new Mm1Exception(source + ": invalid mm1j config: expected a JSON object");
        }
        try {
            return JSON.treeToValue(tree, Mm1Config.class);
        } catch (IOException e) {
            throw configError(source, tree, e);
        }
    }

    /**
     * One line naming the source and the key: a config's own validation message (thrown from a record
     * constructor), or what is wrong with the value at {@code llm.hiddenSize}-style path.
     */
    private static Mm1Exception configError(String source, JsonNode tree, IOException e) {
        if (e instanceof JsonMappingException m) {
            String key = keyPath(m);
            for (Throwable c = m.getCause(); c != null; c = c.getCause()) {
                if (c instanceof Mm1Exception mm) {
                    return new Mm1Exception(source + ": " + mm.getMessage(), e);
                }
            }
            if (tree != null && m instanceof MismatchedInputException mi && isIntegral(mi.getTargetType())) {
                return new Mm1Exception(source + ": " + key + " must be an integer, got " + offending(tree, m), e);
            }
            if (m instanceof UnrecognizedPropertyException) {
                return new Mm1Exception(source + ": unknown key " + key, e);
            }
            if (!key.isEmpty()) {
                return new Mm1Exception(source + ": " + key + ": " + firstLine(m.getOriginalMessage()), e);
            }
        }
        String what = e instanceof JsonProcessingException p ? firstLine(p.getOriginalMessage()) : e.getMessage();
        return new Mm1Exception(source + ": invalid mm1j config: " + what, e);
    }

    /** {@code llm.hiddenSize}, {@code llm.extraEosTokenIds[1]}. */
    private static String keyPath(JsonMappingException m) {
        StringBuilder b = new StringBuilder();
        for (JsonMappingException.Reference r : m.getPath()) {
            if (r.getFieldName() != null) {
                b.append(b.length() == 0 ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                b.append('[').append(r.getIndex()).append(']');
            }
        }
        return b.toString();
    }

    private static boolean isIntegral(Class<?> t) {
        return t == int.class || t == Integer.class || t == long.class || t == Long.class;
    }

    /** The value at the exception's path in {@code tree} (32.5, "32", null), as JSON. */
    private static String offending(JsonNode tree, JsonMappingException e) {
        JsonNode n = tree;
        for (JsonMappingException.Reference r : e.getPath()) {
            n = r.getFieldName() != null ? n.path(r.getFieldName()) : n.path(r.getIndex());
        }
        return n.isMissingNode() ? "a non-integer value" : n.toString();
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }

    /**
     * An integer field of a JSON object (e.g. a Hugging Face {@code config.json}): absent or null gives {@code
     * fallback}; a fraction, a string or a value outside the int range is an error naming file and key.
     *
     * @param fallback the default, or null when the key is required
     */
    public static int intField(JsonNode object, Path file, String key, Integer fallback) {
        JsonNode v = object.get(key);
        if (v == null || v.isNull()) {
            if (fallback == null) {
                throw new Mm1Exception(file + ": missing integer field '" + key + "'");
            }
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new Mm1Exception(file + ": '" + key + "' must be an integer, got " + v);
        }
        return v.intValue();
    }

    public static String toJson(Object config) {
        try {
            return JSON.writeValueAsString(config);
        } catch (IOException e) {
            throw new Mm1Exception("cannot encode config: " + e.getMessage(), e);
        }
    }
}
