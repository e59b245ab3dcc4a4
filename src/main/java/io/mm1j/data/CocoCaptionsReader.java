package io.mm1j.data;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.io.JsonFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * COCO captions ({@code captions_*.json}): {@code images[{id, file_name, ...}]} and {@code annotations[{image_id,
 * id, caption}]}, one {@link Sample.Caption} per image with all its reference captions, in {@code images} order.
 * The file is one JSON object, so its metadata is held in memory (≈100 MB for full COCO); pixels are not — images
 * are decoded later from {@code imageDir}.
 */
public final class CocoCaptionsReader extends SampleReader {
    static final Set<String> IMAGE_FIELDS = Set.of("id", "file_name", "width", "height", "license", "coco_url",
            "flickr_url", "date_captured", "split");
    static final Set<String> ANNOTATION_FIELDS = Set.of("image_id", "id", "caption");

    private final Path json;
    private final Path imageDir;
    private final JsonNode images;
    private final Map<Long, List<String>> captions = new HashMap<>();
    /** Image id → its index in {@code images}: a second entry with the same id is a duplicate. */
    private final Map<Long, Integer> seenImages = new HashMap<>();
    private int index;

    public CocoCaptionsReader(Path json, Path imageDir, SkipReport skips) {
        super(json.toString(), skips);
        if (imageDir == null) {
            throw new io.mm1j.Mm1Exception(json + ": COCO captions need the image folder their file_name entries are "
                    + "relative to");
        }
        this.json = json;
        this.imageDir = imageDir;
        JsonNode root = Json.readFile(json);
        images = root.path("images");
        JsonNode anns = root.path("annotations");
        if (!images.isArray() || !anns.isArray()) {
            throw new io.mm1j.Mm1Exception(json + ": not COCO captions (needs 'images' and 'annotations' "
                    + "arrays)");
        }
        Map<Long, Integer> seenAnnotations = new HashMap<>();
        for (int i = 0; i < anns.size(); i++) {
            JsonNode a = anns.get(i);
            String where = json + ": annotations[" + i + "]";
            Json.checkFields(a, ANNOTATION_FIELDS, where, skips);
            if (!a.path("image_id").canConvertToLong() || !a.path("caption").isTextual()) {
                skips.skip(SkipReport.BAD_RECORD, where, "needs image_id and caption");
                continue;
            }
            // A repeated annotation id means a merged or hand-edited file; counting its caption twice would skew
            // both training and CIDEr's document frequencies, so the repeat is refused.
            if (a.path("id").canConvertToLong()) {
                Integer first = seenAnnotations.putIfAbsent(a.get("id").asLong(), i);
                if (first != null) {
                    skips.skip(SkipReport.BAD_RECORD, where, "duplicate annotation id " + a.get("id").asLong()
                            + " (first at annotations[" + first + "])");
                    continue;
                }
            }
            captions.computeIfAbsent(a.get("image_id").asLong(), k -> new ArrayList<>())
                    .add(a.get("caption").asText().strip());
        }
    }

    @Override
    protected Sample readNext() {
        while (index < images.size()) {
            int i = index++;
            JsonNode im = images.get(i);
            String where = json + ": images[" + i + "]";
            Json.checkFields(im, IMAGE_FIELDS, where, skips);
            if (!im.path("file_name").isTextual() || !im.path("id").canConvertToLong()) {
                skips.skip(SkipReport.BAD_RECORD, where, "needs id and file_name");
                continue;
            }
            long id = im.get("id").asLong();
            Integer first = seenImages.putIfAbsent(id, i);
            if (first != null) {
                skips.skip(SkipReport.BAD_RECORD, where, "duplicate image id " + id + " (first at images[" + first
                        + "])");
                continue;
            }
            ImageRef file = ImageStore.file(imageDir, im.get("file_name").asText(), where, skips);
            if (file == null) {
                continue;
            }
            List<String> caps = captions.get(id);
            if (caps == null) {
                skips.skip(SkipReport.BAD_RECORD, where, "image " + id + " has no captions");
                continue;
            }
            return new Sample.Caption(String.valueOf(id), file, List.copyOf(caps));
        }
        return null;
    }

    // Strict whole-file reading, for evaluation: a bad entry is an error naming file, entry and field, never a
    // skip, because a score over a silently different set is not comparable with published ones.

    /**
     * An entry of {@code images}; {@code fileName} is null when absent (scoring needs only ids), {@code split} is ""
     * when absent (COCO-MINI marks train2017 / val2017).
     */
    public record Image(long id, String fileName, String split) {}

    /**
     * A captions file: its images in file order, and the reference captions per image id as written (images
     * listed without captions map to an empty list; a file with only {@code annotations} is allowed).
     */
    public record Captions(List<Image> images, Map<Long, List<String>> references) {}

    public static Captions readStrict(Path file) {
        JsonNode root = JsonFiles.read(file);
        List<Image> images = new ArrayList<>();
        Map<Long, List<String>> refs = new LinkedHashMap<>();
        if (root.has("images")) {
            JsonNode list = JsonFiles.field(file, root, "images");
            for (int i = 0; i < list.size(); i++) {
                JsonNode im = list.get(i);
                long id = JsonFiles.id(file, im, i, "id");
                String name = im.has("file_name") ? JsonFiles.text(file, im, i, "file_name") : null;
                images.add(new Image(id, name, im.path("split").asText("")));
                refs.putIfAbsent(id, new ArrayList<>());
            }
        }
        JsonNode anns = JsonFiles.field(file, root, "annotations");
        for (int i = 0; i < anns.size(); i++) {
            long image = JsonFiles.id(file, anns.get(i), i, "image_id");
            refs.computeIfAbsent(image, k -> new ArrayList<>()).add(JsonFiles.text(file, anns.get(i), i, "caption"));
        }
        return new Captions(List.copyOf(images), refs);
    }
}
