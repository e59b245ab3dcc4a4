package io.mm1j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code {key}.json} member of the WebDataset shards that {@code mm1 data shard} writes, and its way back to a
 * {@link Sample}. One JSON object per sample:
 * <pre>
 * {"mm1j": 1, "id": "dataset id", "type": "caption" | "interleaved" | "text" | "conversation",
 *  "captions": ["…"],                                   caption
 *  "parts": [{"text": "…"}, {"image": 0}, …],           interleaved (reading order; image = index in "images")
 *  "text": "…",                                         text
 *  "turns": [{"role": "user", "text": "&lt;image&gt;\n…"}, …], conversation
 *  "images": [{"member": "jpg", "sha256": "…", "width": w, "height": h, "source": "name in the input"}],
 *  "tokens": {"tokenizer": "SHA-256 of tokenizer.json", "pieces": [[ids], …]}}   only with --model
 * </pre>
 * Image {@code i} is the tar member {@code {key}.{member}}: {@code {key}.jpg} / {@code {key}.png} for a caption
 * sample (the layout every WebDataset tool reads), {@code {key}.{i}.jpg|png} when a sample may hold several.
 * {@code tokens.pieces} are the ids of the text pieces in the order {@link SampleEncoder} encodes them (recorded by
 * running it), so training with the same tokenizer skips tokenisation and gets the same ids.
 */
public final class ShardSample {
    /** The value of the "mm1j" field: the layout version. */
    public static final int VERSION = 1;

    private ShardSample() {}

    /** A sample's JSON (without "images" and "tokens") and its images in "images" order. */
    public record Body(String type, ObjectNode json, List<ImageRef> images) {}

    /** The JSON body and images of a plain sample (VQA is not a shard type: its answers need their own layout). */
    public static Body body(Sample s) {
        ObjectNode j = Json.MAPPER.createObjectNode();
        j.put("mm1j", VERSION);
        j.put("id", s.id());
        List<ImageRef> images = new ArrayList<>();
        String type;
        if (s instanceof Sample.Caption c) {
            type = "caption";
            ArrayNode caps = j.putArray("captions");
            c.captions().forEach(caps::add);
            images.add(c.image());
        } else if (s instanceof Sample.Interleaved d) {
            type = "interleaved";
            ArrayNode parts = j.putArray("parts");
            for (Sample.Part p : d.parts()) {
                if (p.image() != null) {
                    parts.addObject().put("image", images.size());
                    images.add(p.image());
                } else {
                    parts.addObject().put("text", p.text());
                }
            }
        } else if (s instanceof Sample.Text t) {
            type = "text";
            j.put("text", t.text());
        } else if (s instanceof Sample.Conversation c) {
            type = "conversation";
            ArrayNode turns = j.putArray("turns");
            c.turns().forEach(t -> turns.addObject().put("role", t.role()).put("text", t.text()));
            images.addAll(c.images());
        } else {
            throw new io.mm1j.Mm1Exception(s.id() + ": " + s.getClass().getSimpleName() + " samples are not written "
                    + "to shards");
        }
        j.put("type", type);
        return new Body(type, j, images);
    }

    /** The tar member suffix of image {@code index} of a sample of {@code type} with extension {@code ext}. */
    public static String member(String type, int index, String ext) {
        return type.equals("caption") ? ext : index + "." + ext;
    }

    /**
     * The sample that a shard JSON describes, images from the tar members {@code group} (suffix → bytes); null after
     * reporting to {@code skips} when a member is missing or the JSON is malformed.
     *
     * @param where "shard:key", for messages
     */
    public static Sample read(JsonNode j, String shard, Map<String, byte[]> group, String where, SkipReport skips) {
        List<ImageRef> images = new ArrayList<>();
        JsonNode imgs = j.path("images");
        for (int i = 0; i < imgs.size(); i++) {
            String member = imgs.get(i).path("member").asText("");
            byte[] bytes = group.get(member.toLowerCase());
            if (bytes == null || bytes.length == 0) {
                skips.skip(SkipReport.MISSING_MEMBER, where, "images[" + i + "] names member ." + member + ", which is "
                        + (bytes == null ? "not in the shard" : "empty"));
                return null;
            }
            images.add(ImageRef.of(shard + ":" + where.substring(where.lastIndexOf(':') + 1) + "." + member, bytes));
        }
        Sample s;
        try {
            s = plain(j, images);
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            skips.skip(SkipReport.BAD_RECORD, where + ".json", e.getMessage());
            return null;
        }
        JsonNode tokens = j.path("tokens");
        if (tokens.path("tokenizer").isTextual() && tokens.path("pieces").isArray()) {
            List<long[]> pieces = new ArrayList<>();
            for (JsonNode p : tokens.get("pieces")) {
                long[] ids = new long[p.size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = p.get(i).asLong();
                }
                pieces.add(ids);
            }
            return new Sample.Pretokenized(s, tokens.get("tokenizer").asText(), pieces);
        }
        return s;
    }

    /**
     * The sample a shard JSON describes (its "tokens" not applied), with {@code images} in "images" order.
     *
     * @throws IllegalArgumentException      for an unknown type or an empty caption list
     * @throws IndexOutOfBoundsException     for a part naming an image that is not there
     */
    public static Sample plain(JsonNode j, List<ImageRef> images) {
        String id = j.path("id").asText("");
        String type = j.path("type").asText("");
        return switch (type) {
            case "caption" -> new Sample.Caption(id, images.get(0), texts(j.path("captions"), "captions"));
            case "interleaved" -> {
                List<Sample.Part> parts = new ArrayList<>();
                for (JsonNode p : j.path("parts")) {
                    parts.add(p.has("image") ? Sample.Part.image(images.get(p.get("image").asInt()))
                            : Sample.Part.text(p.path("text").asText()));
                }
                yield new Sample.Interleaved(id, List.copyOf(parts));
            }
            case "text" -> new Sample.Text(id, j.path("text").asText());
            case "conversation" -> {
                List<Sample.Turn> turns = new ArrayList<>();
                for (JsonNode t : j.path("turns")) {
                    turns.add(new Sample.Turn(t.path("role").asText(), t.path("text").asText()));
                }
                yield new Sample.Conversation(id, images, turns);
            }
            default -> throw new IllegalArgumentException("unknown type '" + type + "'");
        };
    }

    private static List<String> texts(JsonNode array, String field) {
        List<String> out = new ArrayList<>();
        array.forEach(x -> out.add(x.asText()));
        if (out.isEmpty()) {
            throw new IllegalArgumentException(field + " is empty");
        }
        return List.copyOf(out);
    }
}
