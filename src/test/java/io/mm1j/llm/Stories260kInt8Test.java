package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import io.mm1j.ManagedNdTest;
import io.mm1j.TestSupport;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.QuantizedFolder;
import io.mm1j.mllm.Sampler;
import io.mm1j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Quality of int8 weights (group 32) on the real stories260K model, measured on the int8 CPU decode path itself:
 * perplexity of the shared TinyStories text within 1% of float32, and the greedy story unchanged for at least 100
 * tokens (issue 13's bar).
 */
class Stories260kInt8Test extends ManagedNdTest {
    /** Positions per window (BOS + 255 text tokens), windows side by side: every token is scored once. */
    private static final int WINDOW = 256;
    /** Text tokens scored: the first ~25 KB of the sample, enough for a stable estimate in a few seconds. */
    private static final int TOKENS = 8_000;

    @TempDir
    Path tmp;

    @Test
    void perplexityWithinOnePercentAndGreedyStoryUnchangedForAtLeast100Tokens() throws IOException {
        quality(false);
    }

    /** Float32's greedy story: token i, and the gap between its two best logits at that step. */
    private record Story(int[] tokens, float[] gaps) {}

    /**
     * Every row padded to whole 512-column blocks, so that each product goes through the block kernel that larger
     * models use (the input quantised to int8 per group of 32 too, as llama.cpp's Q8_0 × Q8_0): stories260K's
     * 64-wide rows are otherwise too narrow for it. Perplexity stays within 1% (measured: +0.06%, against +0.01%
     * with float inputs). The greedy story may part from float32's earlier than 100 tokens, but only where float32
     * itself nearly ties (its two best logits less than 0.1 apart; measured: token 71 of 200, a tie of 0.053).
     */
    @Test
    void theInt8InputBlockKernelKeepsTheSameBar() throws IOException {
        Int8Matrix.padEveryRow = true;
        try {
            quality(true);
        } finally {
            Int8Matrix.padEveryRow = false;
        }
    }

    private void quality(boolean blocked) throws IOException {
        Path dir = TestSupport.sharedData("stories260k");
        Path text = TestSupport.sharedData("text").resolve("tinystories_sample.txt");
        long[] tokens;
        try (Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"))) {
            tokens = tok.encode(Files.readString(text, StandardCharsets.UTF_8));
        }
        tokens = Arrays.copyOf(tokens, Math.min(TOKENS, tokens.length));
        double f32;
        double int8;
        Story storyF32;
        int[] storyInt8;
        try (Decoder d = HfLlama.load(dir, m, DataType.FLOAT32)) {
            try (CpuDecoder cpu = new CpuDecoder(d, WINDOW, 1)) {
                f32 = perplexity(cpu, tokens, d.config().bosTokenId());
                storyF32 = story(cpu, d.config().bosTokenId(), 200);
            }
            d.quantizeInt8(Int8Matrix.DEFAULT_GROUP);
            try (CpuDecoder cpu = new CpuDecoder(d, WINDOW, 1)) {
                assertTrue(cpu.int8());
                d.int8Weights().all().forEach((name, w) -> assertEquals(blocked ? w.cols() : 0, w.blockedColumns(),
                        name + ": columns through the block kernel"));
                int8 = perplexity(cpu, tokens, d.config().bosTokenId());
                storyInt8 = story(cpu, d.config().bosTokenId(), 200).tokens();
            }
        }
        int same = 0;
        while (same < storyInt8.length && storyF32.tokens()[same] == storyInt8[same]) {
            same++;
        }
        System.out.printf("stories260K on %d tokens: perplexity float32 %.4f, int8%s %.4f (%+.3f%%); greedy story "
                + "identical for %d of 200 tokens%n", tokens.length, f32, blocked ? " (int8 inputs)" : "", int8,
                100 * (int8 / f32 - 1), same);
        assertTrue(Math.abs(int8 / f32 - 1) < 0.01, "int8 perplexity " + int8 + " vs float32 " + f32);
        assertTrue(f32 > 1 && f32 < 20, "a real model on its own domain: perplexity " + f32);
        if (!blocked) {
            assertTrue(same >= 100, "the greedy story diverges after " + same + " tokens");
        } else if (same < 100) {
            assertTrue(storyF32.gaps()[same] < 0.1f, "the greedy story diverges after " + same + " tokens where float32's"
                    + " two best logits are " + storyF32.gaps()[same] + " apart");
        }
    }

    @Test
    void aQuantisedHfFolderDecodesAsQuantisingOnLoad() {
        Path dir = TestSupport.sharedData("stories260k");
        Path out = tmp.resolve("q8");
        QuantizedFolder.Summary s = QuantizedFolder.write(dir, prepare(out), Int8Matrix.DEFAULT_GROUP, m);
        assertEquals(1 + 7 * 5, s.quantized(), "tied: the embedding is the head; 7 matrices in each of 5 layers");
        assertTrue(s.files().containsAll(java.util.List.of("config.json", "tokenizer.json")), s.files().toString());
        assertEquals(java.util.List.of("reference_logits.json"), s.leftOut(), "the float weights' logits stay behind");
        assertTrue(s.bytesOut() < s.bytesIn() / 3, s.bytesOut() + " of " + s.bytesIn() + " bytes");
        try (Mm1Model saved = Mm1Model.load(out, m, DataType.FLOAT32);
             Decoder onLoad = HfLlama.load(dir, m, DataType.FLOAT32)) {
            onLoad.quantizeInt8(Int8Matrix.DEFAULT_GROUP);
            try (CpuDecoder a = new CpuDecoder(saved.decoder(), 64, 1);
                 CpuDecoder b = new CpuDecoder(onLoad, 64, 1)) {
                assertTrue(a.int8());
                assertArrayEquals(story(b, 1, 60).tokens(), story(a, 1, 60).tokens());
                a.reset();
                b.reset();
                assertArrayEquals(b.step(1), a.step(1), "bit-identical logits");
            }
        }
    }

    private static Path prepare(Path out) {
        try {
            return Files.createDirectories(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** exp(mean NLL) of {@code tokens}, each predicted once, in windows of BOS + WINDOW − 1 tokens. */
    private static double perplexity(CpuDecoder cpu, long[] tokens, int bos) {
        double nll = 0;
        for (int begin = 0; begin < tokens.length; begin += WINDOW - 1) {
            int end = Math.min(begin + WINDOW - 1, tokens.length);
            cpu.reset();
            float[] logits = cpu.step(bos);
            for (int i = begin; i < end; i++) {
                nll -= logSoftmax(logits, (int) tokens[i]);
                if (i + 1 < end) {
                    logits = cpu.step((int) tokens[i]);
                }
            }
        }
        return Math.exp(nll / tokens.length);
    }

    private static double logSoftmax(float[] logits, int id) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return logits[id] - max - Math.log(sum);
    }

    private static Story story(CpuDecoder cpu, int bos, int n) {
        cpu.reset();
        int[] out = new int[n];
        float[] gaps = new float[n];
        float[] logits = cpu.step(bos);
        for (int i = 0; i < n; i++) {
            out[i] = Sampler.ARGMAX.sample(logits);
            float second = Float.NEGATIVE_INFINITY;
            for (int v = 0; v < logits.length; v++) {
                if (v != out[i]) {
                    second = Math.max(second, logits[v]);
                }
            }
            gaps[i] = logits[out[i]] - second;
            if (i + 1 < n) {
                logits = cpu.step(out[i]);
            }
        }
        return new Story(out, gaps);
    }
}
