package io.mm1j.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.Mm1Exception;
import io.mm1j.io.BoundedFiles;
import java.io.IOException;
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

    /**
     * Largest vocabulary mm1j accepts (ids 0 .. 2^22 - 1): 16× the largest published vocabularies (~256k tokens),
     * small enough that an embedding of that many rows is still allocatable; a larger id in a file is an error.
     */
    public static final int MAX_VOCAB_SIZE = 1 << 22;

    /**
     * Largest tokenizer.json read: 128 MiB, about 4× the largest published ones (a 256k-token vocabulary with its
     * merges is ~35 MB). The file is parsed whole, twice (here and by the native tokenizer).
     */
    public static final long MAX_FILE_BYTES = 128L << 20;

    private final HuggingFaceTokenizer hf;
    private final Path file;
    private final Map<String, Integer> specials;
    private final int vocabSize;
    private final int maxBytesPerToken; // 0 = no bound (see TokenBound)

    private Tokenizer(HuggingFaceTokenizer hf, Path file, Map<String, Integer> specials, int vocabSize,
                      int maxBytesPerToken) {
        this.hf = hf;
        this.file = file;
        this.specials = specials;
        this.vocabSize = vocabSize;
        this.maxBytesPerToken = maxBytesPerToken;
    }

    public static Tokenizer load(Path tokenizerJson) {
        BoundedFiles.checkRegular(tokenizerJson, MAX_FILE_BYTES, "tokenizer file");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(tokenizerJson.toFile());
        } catch (IOException e) {
            throw new Mm1Exception(tokenizerJson + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw new Mm1Exception(tokenizerJson + ": not a Hugging Face tokenizer.json (expected a JSON object)");
        }
        JsonNode vocab = root.path("model").path("vocab");
        if (!vocab.isObject() && !vocab.isArray()) {
            throw new Mm1Exception(tokenizerJson + ": missing model.vocab (not a Hugging Face tokenizer.json)");
        }
        int maxId = -1;
        if (vocab.isObject()) {
            for (var it = vocab.fields(); it.hasNext(); ) {
                var f = it.next();
                maxId = Math.max(maxId, tokenId(tokenizerJson, "model.vocab['" + f.getKey() + "']", f.getValue()));
            }
        } else {
            maxId = vocab.size() - 1;
        }
        if (maxId >= MAX_VOCAB_SIZE) {
            throw new Mm1Exception(tokenizerJson + ": model.vocab has " + (maxId + 1) + " entries, above the limit of "
                    + MAX_VOCAB_SIZE);
        }
        Map<String, Integer> specials = new LinkedHashMap<>();
        int i = 0;
        for (JsonNode t : root.path("added_tokens")) {
            int id = tokenId(tokenizerJson, "added_tokens[" + i++ + "].id", t.path("id"));
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
            return new Tokenizer(hf, tokenizerJson, Collections.unmodifiableMap(specials), maxId + 1,
                    TokenBound.maxBytesPerToken(root));
        } catch (IOException | RuntimeException e) {
            throw new Mm1Exception(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    /** A token id: an integer in [0, MAX_VOCAB_SIZE). */
    private static int tokenId(Path file, String key, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0 || v.asInt() >= MAX_VOCAB_SIZE) {
            throw new Mm1Exception(file + ": " + key + " must be a token id, an integer in [0, " + MAX_VOCAB_SIZE
                    + "), got " + v);
        }
        return v.asInt();
    }

    /** Token ids of {@code text} without BOS/EOS. */
    public long[] encode(String text) {
        return hf.encode(text, false, false).getIds();
    }

    /**
     * Token ids of {@code text} with the special tokens the tokenizer's own post-processor adds (e.g. a Llama
     * tokenizer's BOS), as Hugging Face's {@code add_special_tokens=True}; foreign folders' prompts start this way.
     */
    public long[] encodeWithSpecials(String text) {
        return hf.encode(text, true, false).getIds();
    }

    /**
     * A lower bound on {@code encode(text).length} from the text's length alone, without tokenising: its UTF-8 bytes
     * over the most bytes one token stands for ({@link TokenBound}); 0 when the tokenizer's normaliser or
     * pre-tokeniser may shorten the text (then there is no such bound).
     */
    public int minTokens(CharSequence text) {
        return maxBytesPerToken == 0 ? 0 : (int) ((TokenBound.utf8Length(text) + (long) maxBytesPerToken - 1)
                / maxBytesPerToken);
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
