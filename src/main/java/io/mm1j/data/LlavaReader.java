package io.mm1j.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * LLaVA instruction data (SFT): a JSON array of {@code {id, image?, conversations[{from, value}]}} with
 * {@code from} "human"/"gpt"/"system"; {@code image} is one file name or a list of them (multi-image data). The
 * array is streamed element by element (LLaVA-665k is ~1 GB). Each image has one {@code <image>} tag, kept in the
 * turn's text where it stands (anywhere in any user or system turn); the chat template renders it there.
 *
 * <p>Checked per conversation (a bad one is reported with its file:line and field, and skipped or, with a strict
 * {@link SkipReport}, refused): roles alternate user/assistant after an optional system turn and end with the
 * assistant; no assistant turn is empty; the number of {@code <image>} tags equals the number of images (data
 * without any tag gets its images before the first user turn's text, LLaVA's convention).
 */
public final class LlavaReader extends SampleReader {
    static final Set<String> FIELDS = Set.of("id", "image", "conversations", "model");

    private final Path file;
    private final Path imageDir;
    private final JsonParser parser;

    /** @param imageDir the folder that "image" names are relative to; null counts every image as missing */
    public LlavaReader(Path file, Path imageDir, SkipReport skips) {
        super(file.toString(), skips);
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": file not found");
        }
        this.file = file;
        this.imageDir = imageDir;
        try {
            parser = Json.MAPPER.getFactory().createParser(file.toFile());
            if (parser.nextToken() != JsonToken.START_ARRAY) {
                throw new Mm1Exception(file + ": LLaVA data must be a JSON array of conversations");
            }
        } catch (IOException e) {
            throw new Mm1Exception(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    @Override
    protected Sample readNext() {
        try {
            while (parser.nextToken() == JsonToken.START_OBJECT) {
                String where = file + ":" + parser.currentTokenLocation().getLineNr();
                JsonNode c = parser.readValueAsTree();
                Json.checkFields(c, FIELDS, where, skips);
                Sample s = toSample(c, where);
                if (s != null) {
                    return s;
                }
            }
            return null;
        } catch (IOException e) {
            throw new Mm1Exception(file + ":" + parser.currentLocation().getLineNr() + ": " + SkipReport.CORRUPT_JSON
                    + ": " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    private Sample toSample(JsonNode c, String where) {
        List<String> names = new ArrayList<>();
        JsonNode img = c.path("image");
        if (img.isTextual()) {
            names.add(img.asText());
        } else if (img.isArray()) { // multi-image data (LLaVA-NeXT-Interleave, M4-Instruct): a list of names
            for (int i = 0; i < img.size(); i++) {
                if (!img.get(i).isTextual()) {
                    skips.skip(SkipReport.BAD_RECORD, where, "image[" + i + "] must be a file name");
                    return null;
                }
                names.add(img.get(i).asText());
            }
        } else if (!img.isMissingNode() && !img.isNull()) {
            skips.skip(SkipReport.BAD_RECORD, where, "image must be a file name or a list of file names");
            return null;
        }
        List<Sample.Turn> turns = new ArrayList<>();
        int tags = 0;
        JsonNode conv = c.path("conversations");
        if (!conv.isArray() || conv.isEmpty()) {
            skips.skip(SkipReport.BAD_RECORD, where, "conversations must be a non-empty list of turns");
            return null;
        }
        for (int i = 0; i < conv.size(); i++) {
            JsonNode t = conv.get(i);
            String field = "conversations[" + i + "]";
            String role = switch (t.path("from").asText()) {
                case "human", "user" -> "user";
                case "gpt", "assistant" -> "assistant";
                case "system" -> "system";
                default -> null;
            };
            if (role == null || !t.path("value").isTextual()) {
                skips.skip(SkipReport.BAD_RECORD, where, field + ": a turn needs from (human/gpt/system) and a "
                        + "string value");
                return null;
            }
            String expected = turnRole(turns);
            if (!role.equals(expected) && !(role.equals("system") && turns.isEmpty())) {
                skips.skip(SkipReport.BAD_RECORD, where, field + ".from: roles out of order: expected " + expected
                        + " after " + (turns.isEmpty() ? "the start" : turns.get(turns.size() - 1).role())
                        + ", got " + role);
                return null;
            }
            String text = t.get("value").asText();
            if (role.equals("assistant") && text.isBlank()) {
                skips.skip(SkipReport.BAD_RECORD, where, field + ".value: empty assistant turn");
                return null;
            }
            if (role.equals("assistant") && text.contains(Sample.Conversation.IMAGE_TAG)) {
                skips.skip(SkipReport.BAD_RECORD, where, field + ".value: an assistant turn cannot hold an image");
                return null;
            }
            tags += count(text, Sample.Conversation.IMAGE_TAG);
            turns.add(new Sample.Turn(role, text.strip()));
        }
        if (!turns.get(turns.size() - 1).role().equals("assistant")) {
            skips.skip(SkipReport.BAD_RECORD, where, "conversations[" + (turns.size() - 1) + "].from: the "
                    + "conversation must end with an assistant turn");
            return null;
        }
        if (tags == 0 && !names.isEmpty()) { // untagged single-image data: LLaVA puts the images first
            for (int i = 0; i < turns.size(); i++) {
                if (turns.get(i).role().equals("user")) {
                    turns.set(i, new Sample.Turn("user", (Sample.Conversation.IMAGE_TAG + "\n").repeat(names.size())
                            + turns.get(i).text()));
                    break;
                }
            }
        } else if (tags != names.size()) {
            skips.skip(SkipReport.BAD_RECORD, where, "image: " + names.size() + " image(s) but " + tags + " "
                    + Sample.Conversation.IMAGE_TAG + " tag(s) in conversations");
            return null;
        }
        List<ImageRef> images = new ArrayList<>();
        for (String name : names) {
            if (imageDir == null) {
                skips.skip(SkipReport.MISSING_IMAGE, where, name + " (no image folder given)");
                return null;
            }
            ImageRef ref = ImageStore.file(imageDir, name, where, skips);
            if (ref == null) {
                return null;
            }
            images.add(ref);
        }
        return new Sample.Conversation(c.path("id").asText(where), images, turns);
    }

    /** The role the next turn must have: user first (after an optional system turn), then alternating. */
    private static String turnRole(List<Sample.Turn> turns) {
        for (int i = turns.size() - 1; i >= 0; i--) {
            String r = turns.get(i).role();
            if (!r.equals("system")) {
                return r.equals("user") ? "assistant" : "user";
            }
        }
        return "user";
    }

    private static int count(String text, String tag) {
        int n = 0;
        for (int at = text.indexOf(tag); at >= 0; at = text.indexOf(tag, at + tag.length())) {
            n++;
        }
        return n;
    }

    @Override
    public void close() {
        try {
            parser.close();
        } catch (IOException ignored) {
            // read-only
        }
    }
}
