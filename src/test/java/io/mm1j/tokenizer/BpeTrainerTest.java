package io.mm1j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTrainerTest {
    private static final String CORPUS = "the cat sat on the mat. the dog sat on the log. "
            + "a red circle, a blue square, a green triangle. the cat and the dog are friends.\n";

    @TempDir
    static Path dir;
    static Path json;

    @BeforeAll
    static void train() {
        json = dir.resolve("tokenizer.json");
        new BpeTrainer(300, 2).add(CORPUS.repeat(20)).train().write(json);
    }

    @Test
    void theByteVocabularyNeedsNoText() {
        // `tokenizer: "bytes"` in a run config: the 8 specials and the 256 bytes, no merges, no corpus
        Path out = dir.resolve("bytes.json");
        BpeTrainer.Result r = new BpeTrainer(SpecialTokens.COUNT + 256, 1).add("").train();
        assertEquals(SpecialTokens.COUNT + 256, r.vocabSize());
        assertTrue(r.merges().isEmpty());
        r.write(out);
        try (Tokenizer t = Tokenizer.load(out)) {
            assertEquals(SpecialTokens.COUNT + 256, t.vocabSize());
            assertEquals("First Citizen:\n", t.decode(t.encode("First Citizen:\n")));
            assertEquals(15, t.encode("First Citizen:\n").length);
        }
        assertThrows(Mm1Exception.class, () -> new BpeTrainer(SpecialTokens.COUNT + 257, 1).add("").train());
    }

    @Test
    void firstMergeIsTheMostFrequentPairWithSmallestIdsOnTies() {
        // "aaab aaab ab": pairs (a,a)=4, (a,b)=3 → (a,a) first; then (aa,a)... and "aa" "a" "b" remain.
        BpeTrainer.Result r = new BpeTrainer(SpecialTokens.COUNT + 256 + 2, 1).add("aaab aaab ab").train();
        assertEquals("a a", String.join(" ", r.merges().get(0)));
        assertEquals(SpecialTokens.COUNT + 256 + 2, r.vocabSize());
    }

    @Test
    void mergeRunsOfTheSameSymbolCountPairsExactly() {
        // "aaaa" ×1: (a,a)=3 → merge to "aa aa": pair (aa,aa)=1 ; with minFrequency 1 the second merge is "aa aa".
        BpeTrainer.Result r = new BpeTrainer(SpecialTokens.COUNT + 256 + 2, 1).add("aaaa").train();
        assertEquals(List.of("a a", "aa aa"), r.merges().stream().map(m -> m[0] + " " + m[1]).toList());
    }

    @Test
    void specialTokensSitAtFixedLowIds() {
        try (Tokenizer t = Tokenizer.load(json)) {
            for (int id = 0; id < SpecialTokens.COUNT; id++) {
                assertEquals(id, t.specialId(SpecialTokens.ALL.get(id)));
            }
            assertEquals(SpecialTokens.IMAGE_ID, t.specialId(SpecialTokens.IMAGE));
            assertArrayEquals(new long[] {SpecialTokens.IMAGE_ID}, t.encode(SpecialTokens.IMAGE));
            assertEquals(300, t.vocabSize());
        }
    }

    @Test
    void learntMergesCompressFrequentWords() {
        try (Tokenizer t = Tokenizer.load(json)) {
            assertEquals(1, t.encode(" the").length);
            assertTrue(t.encode("the cat sat on the mat.").length <= 8);
        }
    }

    @Test
    void roundTripsRandomUnicodeExactly() {
        int[][] ranges = {{0x00, 0x7F}, {0x80, 0x24F}, {0x300, 0x36F}, {0x4E00, 0x9FFF}, {0x1F300, 0x1FAFF},
                {0x0600, 0x06FF}, {0x0900, 0x097F}, {0xAC00, 0xD7A3}, {0x2000, 0x206F}, {0x10000, 0x10FFFF}};
        SplittableRandom rnd = new SplittableRandom(42);
        try (Tokenizer t = Tokenizer.load(json)) {
            for (int n = 0; n < 300; n++) {
                StringBuilder sb = new StringBuilder();
                int len = rnd.nextInt(0, 40);
                for (int i = 0; i < len; i++) {
                    int[] r = ranges[rnd.nextInt(ranges.length)];
                    int cp = rnd.nextInt(r[0], r[1] + 1);
                    if (cp >= 0xD800 && cp <= 0xDFFF) {
                        cp = ' '; // lone surrogates are not text
                    }
                    sb.appendCodePoint(cp);
                }
                String s = sb.toString();
                assertEquals(s, t.decode(t.encode(s)), () -> "round trip of " + s.codePoints()
                        .mapToObj(Integer::toHexString).toList());
            }
            String mixed = "Grüße, 世界! 👩‍👩‍👧 e\u0301 \t\r\n\u0000\u001b[0m  two  spaces ";
            assertEquals(mixed, t.decode(t.encode(mixed)));
        }
    }

    @Test
    void trainingIsDeterministic() throws Exception {
        Path other = dir.resolve("again.json");
        new BpeTrainer(300, 2).add(CORPUS.repeat(20)).train().write(other);
        assertArrayEquals(Files.readAllBytes(json), Files.readAllBytes(other));
    }

    @Test
    void rejectsTooSmallVocabAndEmptyInput() {
        assertEquals("--vocab-size 100 is below the 264 special and byte tokens",
                assertThrows(Mm1Exception.class, () -> new BpeTrainer(100, 2)).getMessage());
        assertEquals("tokenizer training: no input text",
                assertThrows(Mm1Exception.class, () -> new BpeTrainer(300, 2).train()).getMessage());
    }
}
