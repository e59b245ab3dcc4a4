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
 * {@code from} "human"/"gpt"/"system". The array is streamed element by element (LLaVA-665k is ~1 GB). The
 * {@code <image>} marker in a turn's text is removed: the image belongs to the conversation and the packer puts its
 * slots before the first user turn, which is where LLaVA's data places the marker in practice.
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
        ImageRef image = null;
        if (c.path("image").isTextual()) {
            if (imageDir == null) {
                skips.skip(SkipReport.MISSING_IMAGE, where, c.get("image").asText() + " (no image folder given)");
                return null;
            }
            image = ImageStore.file(imageDir, c.get("image").asText(), where, skips);
            if (image == null) {
                return null;
            }
        }
        List<Sample.Turn> turns = new ArrayList<>();
        for (JsonNode t : c.path("conversations")) {
            String role = switch (t.path("from").asText()) {
                case "human", "user" -> "user";
                case "gpt", "assistant" -> "assistant";
                case "system" -> "system";
                default -> null;
            };
            if (role == null || !t.path("value").isTextual()) {
                skips.skip(SkipReport.BAD_RECORD, where, "turn needs from (human/gpt/system) and value");
                return null;
            }
            turns.add(new Sample.Turn(role, t.get("value").asText().replace("<image>\n", "").replace("<image>", "")
                    .strip()));
        }
        if (turns.isEmpty()) {
            skips.skip(SkipReport.BAD_RECORD, where, "no conversations");
            return null;
        }
        return new Sample.Conversation(c.path("id").asText(where), image, List.copyOf(turns));
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
