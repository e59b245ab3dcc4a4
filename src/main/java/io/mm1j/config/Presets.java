package io.mm1j.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.InputCoercionException;
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
import io.mm1j.io.WrittenNumbers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;

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
            throw configError("preset " + name, "", null, Map.of(), e);
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
            throw utf8 != null ? utf8 : configError(file.toString(), "", null, Map.of(), e);
        }
        return bind(tree, Mm1Config.class, file.toString(), "", WrittenNumbers.in(file));
    }

    /** The config in {@code tree}; parsed first so that a message can quote the offending value. */
    public static Mm1Config bind(JsonNode tree, String source) {
        return bind(tree, Mm1Config.class, source, "", Map.of());
    }

    /**
     * {@code tree} bound to a config record ({@link Mm1Config}, {@link VisionConfig} …), every failure one line:
     * {@code source}, the key ({@code keyPrefix} + its path in the tree), the value and what the key takes — never
     * Jackson's own wording with Java type names.
     *
     * @param keyPrefix where {@code tree} sits in the config the user wrote ({@code "vision."}), or ""
     * @param written   numbers as the user wrote them ({@link WrittenNumbers}), by JSON pointer into {@code tree}
     */
    public static <T> T bind(JsonNode tree, Class<T> type, String source, String keyPrefix,
                             Map<String, String> written) {
        if (tree == null || !tree.isObject()) {
            throw new Mm1Exception(source + ": invalid mm1j config: expected a JSON object");
        }
        try {
            return JSON.treeToValue(tree, type);
        } catch (IOException e) {
            throw configError(source, keyPrefix, tree, written, e);
        }
    }

    /**
     * One line naming the source and the key: a config's own validation message (thrown from a record
     * constructor), or what is wrong with the value at {@code llm.hiddenSize}-style path and what it must be.
     */
    private static Mm1Exception configError(String source, String keyPrefix, JsonNode tree,
                                            Map<String, String> written, IOException e) {
        if (e instanceof JsonMappingException m) {
            for (Throwable c = m.getCause(); c != null; c = c.getCause()) {
                if (c instanceof Mm1Exception mm) {
                    return new Mm1Exception(source + ": " + mm.getMessage(), e);
                }
            }
            String path = keyPath(m);
            String key = keyPrefix + path;
            if (m instanceof UnrecognizedPropertyException u) {
                List<String> known = u.getKnownPropertyIds().stream().map(Object::toString).sorted().toList();
                return new Mm1Exception(source + ": unknown key " + key + " (known here: " + String.join(", ", known)
                        + ")", e);
            }
            if (tree != null && !path.isEmpty()) {
                Class<?> target = m instanceof MismatchedInputException mi ? mi.getTargetType()
                        : m.getCause() instanceof InputCoercionException ic ? ic.getTargetType() : null;
                String takes = target == null ? null : takes(target, m.getCause() instanceof InputCoercionException);
                if (takes != null) {
                    return new Mm1Exception(source + ": " + key + " must be " + takes + ", got "
                            + offending(tree, m, written), e);
                }
            }
            if (!path.isEmpty()) {
                return new Mm1Exception(source + ": " + key + ": " + plain(m.getOriginalMessage()), e);
            }
        }
        String what = e instanceof JsonProcessingException p ? plain(p.getOriginalMessage()) : e.getMessage();
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

    /** What a field of Java type {@code t} takes, in the config's words ("an integer", "one of [mlp, …]"). */
    private static String takes(Class<?> t, boolean outOfRange) {
        if (t == int.class || t == Integer.class) {
            return outOfRange ? "an integer from " + Integer.MIN_VALUE + " to " + Integer.MAX_VALUE : "an integer";
        }
        if (t == long.class || t == Long.class || t == short.class || t == Short.class) {
            return "an integer";
        }
        if (t == boolean.class || t == Boolean.class) {
            return "true or false";
        }
        if (t == double.class || t == Double.class || t == float.class || t == Float.class) {
            return "a number";
        }
        if (t == String.class) {
            return "a string";
        }
        if (t.isEnum()) {
            return "one of " + Arrays.toString(t.getEnumConstants()); // toString: the JSON spelling
        }
        if (Collection.class.isAssignableFrom(t) || t.isArray()) {
            return "a list";
        }
        return t.isRecord() || Map.class.isAssignableFrom(t) ? "an object" : null;
    }

    /** The value at the exception's path in {@code tree} (32.5 as written, "32", null), as JSON. */
    private static String offending(JsonNode tree, JsonMappingException e, Map<String, String> written) {
        JsonNode n = tree;
        StringBuilder pointer = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            n = r.getFieldName() != null ? n.path(r.getFieldName()) : n.path(r.getIndex());
            pointer.append('/').append(r.getFieldName() != null ? r.getFieldName().replace("~", "~0")
                    .replace("/", "~1") : Integer.toString(r.getIndex()));
        }
        String w = written.get(pointer.toString());
        return w != null ? w : n.isMissingNode() ? "nothing" : n.toString();
    }

    /**
     * Jackson's message for what no case above covers, without its Java type names and coercion advice (first line
     * only): the key and the value say the rest.
     */
    static String plain(String message) {
        return firstLine(message)
                .replaceAll(" \\((but|although) [^)]*\\)", "")
                .replaceAll("`(?:[A-Za-z_$][\\w$]*\\.)+([A-Za-z_$][\\w$]*)`", "$1")
                .replaceAll(" \\(token `?JsonToken\\.[A-Z_]+`?\\)", "");
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
