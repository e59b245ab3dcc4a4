package io.mm1j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Tokenizer#minTokens}: never more than the tokens Hugging Face's own encoder gives (checked on random text
 * through the real encoder), large for megabytes of text, and 0 for tokenizers whose steps can shorten the text.
 */
class TokenBoundTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Letters, spaces, digits, punctuation, 2- and 3-byte characters, an emoji (a surrogate pair), specials. */
    private static final String[] PIECES = {"a", "e", "t", "h", "the", " ", "  ", "\n", "7", "42", ".", ",", "é", "ß",
        "日本", "😀", "<s>", "</s>", "<image>", " the cat", "▁"};

    @TempDir
    Path dir;

    /** Random texts of up to 400 pieces, seeded. */
    private static List<String> texts() {
        SplittableRandom r = new SplittableRandom(13);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            StringBuilder sb = new StringBuilder();
            for (int j = r.nextInt(400); j > 0; j--) {
                sb.append(PIECES[r.nextInt(PIECES.length)]);
            }
            out.add(sb.toString());
        }
        return out;
    }

    private static void assertLowerBound(Tokenizer t) {
        for (String text : texts()) {
            int tokens = t.encode(text).length;
            assertTrue(t.minTokens(text) <= tokens, t.minTokens(text) + " > " + tokens + " tokens for '" + text + "'");
        }
    }

    @Test
    void aByteLevelBpeIsBoundedByItsLongestToken() {
        Path json = dir.resolve("tokenizer.json");
        new BpeTrainer(300, 2).add("the cat sat on the mat. the dog sat on the log. ".repeat(20)).train().write(json);
        try (Tokenizer t = Tokenizer.load(json)) {
            assertLowerBound(t);
            // 8 MB of text cannot fit any context: a token stands for at most a few dozen bytes
            assertTrue(t.minTokens("x".repeat(8_000_000)) >= 8_000_000 / 64, "" + t.minTokens("x".repeat(8_000_000)));
        }
    }

    /**
     * Llama 2's layout: normaliser Prepend('▁') + Replace(' ' → '▁'), no pre-tokeniser, byte fallback, a fused
     * unknown token. The longest strings are "▁the" and the byte tokens "&lt;0x41&gt;": 6 bytes each.
     */
    @Test
    void aLlamaStyleSentencePieceBpeIsBoundedToo() throws Exception {
        ObjectNode root = llamaStyle();
        assertEquals(6, TokenBound.maxBytesPerToken(root));
        Path json = Files.writeString(dir.resolve("llama.json"), root.toString());
        try (Tokenizer t = Tokenizer.load(json)) {
            assertLowerBound(t);
            assertEquals(100, t.minTokens("a".repeat(600)));
            assertEquals(601, t.encode("a".repeat(600)).length, "'▁' + 600 unmerged 'a'");
        }
    }

    @Test
    void stepsThatCanShortenTheTextGiveNoBound() {
        assertEquals(0, TokenBound.maxBytesPerToken(with(llamaStyle(), "normalizer", "{\"type\":\"NFC\"}")));
        assertEquals(0, TokenBound.maxBytesPerToken(with(llamaStyle(), "normalizer",
                "{\"type\":\"Replace\",\"pattern\":{\"String\":\"  \"},\"content\":\" \"}")));
        assertEquals(0, TokenBound.maxBytesPerToken(with(llamaStyle(), "normalizer",
                "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\"▁\"}")));
        assertEquals(0, TokenBound.maxBytesPerToken(with(llamaStyle(), "pre_tokenizer",
                "{\"type\":\"WhitespaceSplit\"}")));
        assertEquals(0, TokenBound.maxBytesPerToken(with(llamaStyle(), "pre_tokenizer",
                "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
                        + "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"Removed\"}]}")));
        ObjectNode fused = llamaStyle();
        ((ObjectNode) fused.get("model")).put("byte_fallback", false);
        assertEquals(0, TokenBound.maxBytesPerToken(fused), "a fused unknown token stands for any run");
        ObjectNode lstrip = llamaStyle();
        ((ObjectNode) lstrip.get("added_tokens").get(1)).put("lstrip", true);
        assertEquals(0, TokenBound.maxBytesPerToken(lstrip), "an lstrip token swallows the spaces before it");
        ObjectNode wordLevel = llamaStyle();
        ((ObjectNode) wordLevel.get("model")).put("type", "WordLevel");
        assertEquals(0, TokenBound.maxBytesPerToken(wordLevel));
    }

    @Test
    void aNormalizedAddedTokenCountsAsItsNormalizedForm() {
        ObjectNode root = llamaStyle();
        ((ArrayNode) root.get("added_tokens")).addObject().put("id", 300).put("content", "a b c d e")
                .put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", true)
                .put("special", false);
        assertEquals(5 * 3 + 5, TokenBound.maxBytesPerToken(root), "'▁a▁b▁c▁d▁e': five '▁', five letters");
    }

    @Test
    void utf8LengthCountsSurrogatePairsOnce() {
        assertEquals(1 + 2 + 3 + 4, TokenBound.utf8Length("aé日😀"));
        assertEquals(1, TokenBound.utf8Length("\uD83D"), "a lone surrogate: at least one byte");
    }

    private static ObjectNode with(ObjectNode root, String field, String json) {
        try {
            root.set(field, JSON.readTree(json));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        return root;
    }

    /** A small tokenizer.json laid out as Llama 2's: 3 specials, 256 byte tokens, '▁', a–z, and "▁the". */
    private static ObjectNode llamaStyle() {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < specials.length; i++) {
            added.addObject().put("id", i).put("content", specials[i]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        JsonNode normalizer = JSON.createObjectNode().put("type", "Sequence").set("normalizers", JSON.createArrayNode()
                .add(JSON.createObjectNode().put("type", "Prepend").put("prepend", "▁"))
                .add(JSON.createObjectNode().put("type", "Replace").<ObjectNode>set("pattern",
                        JSON.createObjectNode().put("String", " ")).put("content", "▁")));
        root.set("normalizer", normalizer);
        root.putNull("pre_tokenizer");
        root.putNull("post_processor");
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.put("unk_token", "<unk>").putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true).put("byte_fallback", true).put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        int id = 0;
        for (String s : specials) {
            vocab.put(s, id++);
        }
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), id++);
        }
        vocab.put("▁", id++);
        for (char c = 'a'; c <= 'z'; c++) {
            vocab.put(String.valueOf(c), id++);
        }
        vocab.put("▁t", id++);
        vocab.put("he", id++);
        vocab.put("▁the", id++);
        model.putArray("merges").add("▁ t").add("h e").add("▁t he");
        return root;
    }
}
