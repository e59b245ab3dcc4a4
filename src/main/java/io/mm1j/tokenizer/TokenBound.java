package io.mm1j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;

/**
 * The most UTF-8 bytes of input one token can stand for, read from a Hugging Face {@code tokenizer.json}, so that
 * {@code ceil(bytes(text) / maxBytesPerToken)} is a lower bound on the number of tokens of {@code text} with no
 * tokenising: a server refuses a prompt of megabytes for a context of thousands of tokens from its length alone.
 *
 * <p>Each token is a vocabulary or added-token string and covers at most that string's bytes of the text the model
 * sees after normalisation and pre-tokenisation (a ByteLevel token's characters each stand for one input byte; a
 * Metaspace '▁' for one space). The bound holds when that text is no shorter than the input, so only steps that keep
 * or lengthen it are accepted; anything else gives 0 (no bound, the caller tokenises):
 * <ul>
 *   <li>normaliser: none, {@code Prepend}, or {@code Replace} of a string by one at least as long (Llama's
 *       ' ' → '▁'); NFC/NFKC, lowercasing or stripping can shorten the text;</li>
 *   <li>pre-tokeniser: none, ByteLevel, Metaspace, Digits, UnicodeScripts, Punctuation or Split unless they remove
 *       what they match; Whitespace, WhitespaceSplit and BertPreTokenizer drop spaces;</li>
 *   <li>model: BPE whose unknown token stands for one character ({@code fuse_unk} would make it stand for a run);</li>
 *   <li>added tokens that do not swallow the whitespace around them ({@code lstrip}, {@code rstrip}).</li>
 * </ul>
 */
final class TokenBound {
    /** Bytes a BPE unknown token stands for: one character, at most 4 bytes in UTF-8. */
    private static final int UNKNOWN_CHAR_BYTES = 4;
    private static final Set<String> SPLITTING_PRE_TOKENIZERS = Set.of("ByteLevel", "Metaspace", "Digits",
            "UnicodeScripts", "Punctuation", "Split");

    private TokenBound() {}

    /** The most input bytes one token stands for, or 0 when the tokenizer's steps give no such bound. */
    static int maxBytesPerToken(JsonNode root) {
        JsonNode normalizer = root.path("normalizer");
        JsonNode model = root.path("model");
        if (!keepsLength(normalizer) || !keepsLength(root.path("pre_tokenizer")) || !"BPE".equals(model.path("type")
                .asText()) || !model.path("vocab").isObject()) {
            return 0;
        }
        int max = 0;
        if (!model.path("unk_token").isNull() && !model.path("unk_token").isMissingNode()) {
            if (model.path("fuse_unk").asBoolean(false) && !model.path("byte_fallback").asBoolean(false)) {
                return 0;
            }
            max = UNKNOWN_CHAR_BYTES;
        }
        for (var it = model.path("vocab").fieldNames(); it.hasNext(); ) {
            max = Math.max(max, utf8Length(it.next()));
        }
        for (JsonNode t : root.path("added_tokens")) {
            if (t.path("lstrip").asBoolean(false) || t.path("rstrip").asBoolean(false)) {
                return 0;
            }
            String content = t.path("content").asText();
            // a "normalized" added token is matched in the normalised text, as its normalised content
            max = Math.max(max, utf8Length(t.path("normalized").asBoolean(true) ? normalize(normalizer, content)
                    : content));
        }
        return max;
    }

    /** Whether a normaliser or pre-tokeniser (or a Sequence of them) never shortens the text. */
    private static boolean keepsLength(JsonNode step) {
        if (step.isMissingNode() || step.isNull()) {
            return true;
        }
        String type = step.path("type").asText();
        return switch (type) {
            case "Sequence" -> {
                JsonNode steps = step.has("normalizers") ? step.path("normalizers") : step.path("pretokenizers");
                boolean all = steps.isArray();
                for (JsonNode s : steps) {
                    all &= keepsLength(s);
                }
                yield all;
            }
            case "Prepend" -> true;
            case "Replace" -> step.path("pattern").has("String") && utf8Length(step.path("content").asText())
                    >= utf8Length(step.path("pattern").path("String").asText());
            default -> SPLITTING_PRE_TOKENIZERS.contains(type)
                    && !"Removed".equals(step.path("behavior").asText());
        };
    }

    /** {@code text} through the accepted normalisers (Prepend, Replace), as Hugging Face applies them. */
    private static String normalize(JsonNode step, String text) {
        return switch (step.path("type").asText()) {
            case "Sequence" -> {
                String out = text;
                for (JsonNode s : step.path("normalizers")) {
                    out = normalize(s, out);
                }
                yield out;
            }
            case "Prepend" -> text.isEmpty() ? text : step.path("prepend").asText() + text;
            case "Replace" -> text.replace(step.path("pattern").path("String").asText(),
                    step.path("content").asText());
            default -> text;
        };
    }

    /** Bytes of {@code s} in UTF-8; a lone surrogate counts 1 (it becomes at least one byte). */
    static int utf8Length(CharSequence s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                n += 1;
            } else {
                n += 3;
            }
        }
        return (int) Math.min(n, Integer.MAX_VALUE);
    }
}
