package io.mm1j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Readers for the captioning formats coco-caption takes: the COCO annotation file ({@code images} and
 * {@code annotations: [{image_id, caption}]}) for references, and the results list
 * {@code [{"image_id": int, "caption": str}]}, exactly one caption per image (the official scorers assert this).
 */
public final class CocoCaptions {
    private CocoCaptions() {}

    /** Reference captions per image id, in file order; images listed without captions map to an empty list. */
    public static Map<Long, List<String>> readReferences(Path file) {
        JsonNode root = JsonFiles.read(file);
        Map<Long, List<String>> refs = new LinkedHashMap<>();
        if (root.has("images")) {
            JsonNode images = JsonFiles.field(file, root, "images");
            for (int i = 0; i < images.size(); i++) {
                refs.putIfAbsent(JsonFiles.id(file, images.get(i), i, "id"), new ArrayList<>());
            }
        }
        JsonNode anns = JsonFiles.field(file, root, "annotations");
        for (int i = 0; i < anns.size(); i++) {
            long image = JsonFiles.id(file, anns.get(i), i, "image_id");
            refs.computeIfAbsent(image, k -> new ArrayList<>()).add(JsonFiles.text(file, anns.get(i), i, "caption"));
        }
        return refs;
    }

    /** One caption per image id; duplicate ids are an error (coco-caption would fail an assertion on them). */
    public static Map<Long, String> readResults(Path file) {
        JsonNode list = JsonFiles.array(file, JsonFiles.read(file), "a results file");
        Map<Long, String> results = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            long image = JsonFiles.id(file, list.get(i), i, "image_id");
            String caption = JsonFiles.text(file, list.get(i), i, "caption");
            if (results.put(image, caption) != null) {
                throw new Mm1Exception(file + ": entry " + i + ": duplicate image_id " + image
                        + " (one caption per image)");
            }
        }
        return results;
    }
}
