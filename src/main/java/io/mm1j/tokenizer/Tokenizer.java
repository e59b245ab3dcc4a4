package io.mm1j.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Text ↔ token ids through a Hugging Face {@code tokenizer.json} (DJL's native tokenizers binding, offline).
 * Truncation is off (DJL's default silently cuts at 512 tokens) and special tokens are never added implicitly:
 * callers put BOS and {@code <image>} placeholders where MM1's sequence layout wants them.
 */
public final class Tokenizer implements AutoCloseable {
    /** mm1j's reserved special tokens (added by the BPE trainer; looked up by name in any tokenizer). */
    public static final String IMAGE = "<image>";
    public static final String BOS = "<s>";
    public static final String EOS = "</s>";

    private final HuggingFaceTokenizer hf;
    private final Path file;
    private final Map<String, Integer> specials;
    private final int vocabSize;

    private Tokenizer(HuggingFaceTokenizer hf, Path file, Map<String, Integer> specials, int vocabSize) {
        this.hf = hf;
        this.file = file;
        this.specials = specials;
        this.vocabSize = vocabSize;
    }

    public static Tokenizer load(Path tokenizerJson) {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new Mm1Exception(tokenizerJson + ": tokenizer file not found");
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(tokenizerJson.toFile());
        } catch (IOException e) {
            throw new Mm1Exception(tokenizerJson + ": not valid JSON: " + e.getMessage());
        }
        JsonNode vocab = root.path("model").path("vocab");
        if (!vocab.isObject() && !vocab.isArray()) {
            throw new Mm1Exception(tokenizerJson + ": missing model.vocab (not a Hugging Face tokenizer.json)");
        }
        int maxId = -1;
        if (vocab.isObject()) {
            for (var it = vocab.elements(); it.hasNext(); ) {
                maxId = Math.max(maxId, it.next().asInt());
            }
        } else {
            maxId = vocab.size() - 1;
        }
        Map<String, Integer> specials = new LinkedHashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            int id = t.path("id").asInt();
            specials.put(t.path("content").asText(), id);
            maxId = Math.max(maxId, id);
        }
        try {
            HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(tokenizerJson)
                    .optAddSpecialTokens(false)
                    .optTruncation(false)
                    .optPadding(false)
                    .build();
            return new Tokenizer(hf, tokenizerJson, Collections.unmodifiableMap(specials), maxId + 1);
        } catch (IOException | RuntimeException e) {
            throw new Mm1Exception(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    /** Token ids of {@code text} without BOS/EOS. */
    public long[] encode(String text) {
        return hf.encode(text, false, false).getIds();
    }

    /** Text of {@code ids}; special tokens (BOS, EOS, {@code <image>}) are skipped. */
    public String decode(long[] ids) {
        return hf.decode(ids, true);
    }

    /** The id of a special/added token, or -1. */
    public int specialId(String token) {
        return specials.getOrDefault(token, -1);
    }

    public Map<String, Integer> specials() {
        return specials;
    }

    /** Number of ids the tokenizer can produce (max id + 1). */
    public int vocabSize() {
        return vocabSize;
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        hf.close();
    }
}
