package io.mm1j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The one JSON configuration for data and evaluation files ({@link #MAPPER}: Jackson's defaults, so numbers with a
 * fraction are doubles and integers stay integers, as Python's {@code json} reads them), and strict field access
 * for the official file formats. Every failure becomes an {@link Mm1Exception} naming the file, the entry and the
 * field, because a results file written by someone else's script is the usual source of a wrong score, and
 * "KeyError: 'image_id'" from deep inside a metric does not say where to look.
 */
public final class JsonFiles {
    /** Shared, thread-safe once configured; never reconfigure it. */
    public static final ObjectMapper MAPPER = new ObjectMapper();
    /** Largest JSON file read whole: VQAv2's train annotations are ~350 MB, COCO captions ~100 MB. */
    static final long MAX_BYTES = 1L << 30;

    private JsonFiles() {}

    /** Parses a whole JSON file (bytes, so bad UTF-8 is reported with the file's position like any syntax error). */
    public static JsonNode read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": file not found" + (Files.exists(file) ? " (not a regular file)" : ""));
        }
        try {
            return MAPPER.readTree(BoundedFiles.readAllBytes(file, MAX_BYTES, "JSON file"));
        } catch (JsonProcessingException e) {
            throw new Mm1Exception(file + ": malformed JSON at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + " (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** {@code node} itself, when it is an array; {@code what} names it in the message. */
    public static JsonNode array(Path file, JsonNode node, String what) {
        if (node == null || !node.isArray()) {
            throw new Mm1Exception(file + ": " + what + " must be a JSON array");
        }
        return node;
    }

    /** The top-level array of a results file, or the named array of an annotation file. */
    public static JsonNode field(Path file, JsonNode root, String name) {
        if (!root.isObject() || !root.has(name)) {
            throw new Mm1Exception(file + ": expected a JSON object with a \"" + name + "\" array");
        }
        return array(file, root.get(name), "\"" + name + "\"");
    }

    public static long id(Path file, JsonNode entry, int index, String name) {
        JsonNode v = object(file, entry, index).get(name);
        if (v == null) {
            throw new Mm1Exception(file + ": entry " + index + " has no \"" + name + "\"");
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new Mm1Exception(file + ": entry " + index + ": \"" + name + "\" must be an integer, got " + v);
        }
        return v.longValue();
    }

    public static String text(Path file, JsonNode entry, int index, String name) {
        JsonNode v = object(file, entry, index).get(name);
        if (v == null) {
            throw new Mm1Exception(file + ": entry " + index + " has no \"" + name + "\"");
        }
        if (!v.isTextual()) {
            throw new Mm1Exception(file + ": entry " + index + ": \"" + name + "\" must be a string, got " + v);
        }
        return v.textValue();
    }

    /** {@code entry}, when it is a JSON object. */
    public static JsonNode object(Path file, JsonNode entry, int index) {
        if (!entry.isObject()) {
            throw new Mm1Exception(file + ": entry " + index + " must be a JSON object, got " + entry);
        }
        return entry;
    }
}
