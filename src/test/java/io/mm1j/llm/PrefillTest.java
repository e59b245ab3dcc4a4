package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import io.mm1j.config.LlmConfig;
import io.mm1j.nn.KvCache;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Batched prefill computes what feeding the prompt one position at a time computes: the logits after the prompt
 * and the KV cache (checked through the next step's logits) agree to 1e-4 absolute on both decode paths, for token
 * prompts and for embedding prompts (image tokens spliced in), across chunk boundaries and after earlier positions.
 */
class PrefillTest extends ManagedNdTest {
    static final double TOL = 1e-4;
    static final LlmConfig GQA = LlmConfig.llama(300, 64, 160, 3, 8, 2, 512, false);
    static final LlmConfig TIED = LlmConfig.llama(300, 48, 96, 2, 4, 4, 512, true);

    static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    static int[] ids(int n, int seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(300);
        }
        return ids;
    }

    @Test
    void tokenPromptsMatchStepByStep() {
        for (LlmConfig c : new LlmConfig[] {GQA, TIED}) {
            try (Decoder d = Decoder.init(c, m, DataType.FLOAT32);
                 CpuDecoder batched = new CpuDecoder(d, 512, 2);
                 CpuDecoder stepwise = new CpuDecoder(d, 512, 1)) {
                int[] lengths = c == GQA ? new int[] {1, 7, 37, CpuDecoder.PREFILL_CHUNK + 45} : new int[] {1, 7, 37};
                for (int n : lengths) { // 301 = two chunks
                    batched.reset();
                    stepwise.reset();
                    int[] prompt = ids(n, n);
                    float[] a = batched.prefill(prompt).clone();
                    float[] b = null;
                    for (int id : prompt) {
                        b = stepwise.step(id);
                    }
                    assertTrue(maxDiff(a, b) < TOL, c.hiddenSize() + "d, " + n + " tokens: " + maxDiff(a, b));
                    assertEquals(n, batched.position());
                    // the cache holds the same keys and values: the next step sees the same context
                    double next = maxDiff(batched.step(5).clone(), stepwise.step(5));
                    assertTrue(next < TOL, "step after prefill: " + next);
                }
            }
        }
    }

    @Test
    void aOneTokenPromptGivesTheDecodeStepsBits() {
        // a one-position prompt is fed as a decode step (the code a generation keeps compiled): the same logits as
        // step and as the batched pass it replaced (still the one-token prompt's path in prefill(Sequence[], ..)),
        // bit for bit, and the same cache (the next step agrees bit for bit too); F32 and int8 weights, the int8
        // ones wide enough for the blocked kernel (hidden 512)
        LlmConfig wide = LlmConfig.llama(300, 512, 640, 2, 8, 2, 64, false);
        for (boolean int8 : new boolean[] {false, true}) {
            try (Decoder d = Decoder.init(int8 ? wide : GQA, m, DataType.FLOAT32)) {
                if (int8) {
                    Quantization.of("int8").apply(d);
                }
                try (CpuDecoder prefilled = new CpuDecoder(d, 64, 2);
                     CpuDecoder stepped = new CpuDecoder(d, 64, 2);
                     CpuDecoder batched = new CpuDecoder(d, 64, 2)) {
                    assertEquals(int8, prefilled.int8());
                    String what = int8 ? "int8" : "f32";
                    float[] a = prefilled.prefill(new int[] {42}).clone();
                    float[] b = stepped.step(42).clone();
                    CpuDecoder.Sequence seq = batched.newSequence(8);
                    float[] c = batched.prefill(new CpuDecoder.Sequence[] {seq},
                            new float[][] {batched.embeddings(new int[] {42})})[0];
                    assertTrue(java.util.Arrays.equals(a, b), what + " vs step: " + maxDiff(a, b));
                    assertTrue(java.util.Arrays.equals(a, c), what + " vs the batched pass: " + maxDiff(a, c));
                    assertEquals(1, prefilled.position());
                    float[] nextA = prefilled.step(7).clone();
                    assertTrue(java.util.Arrays.equals(nextA, stepped.step(7)), what + ": step after a one-token "
                            + "prefill");
                    float[] nextC = batched.step(new CpuDecoder.Sequence[] {seq}, new int[] {7});
                    assertTrue(java.util.Arrays.equals(nextA, nextC), what + ": step after the batched pass");
                }
            }
        }
    }

    @Test
    void aSecondPrefillAttendsToTheFirst() {
        try (Decoder d = Decoder.init(GQA, m, DataType.FLOAT32);
             CpuDecoder batched = new CpuDecoder(d, 128, 2);
             CpuDecoder stepwise = new CpuDecoder(d, 128, 1)) {
            int[] turn1 = ids(20, 1);
            int[] turn2 = ids(13, 2);
            batched.prefill(turn1);
            float[] a = batched.prefill(turn2).clone();
            float[] b = null;
            for (int id : turn1) {
                stepwise.step(id);
            }
            for (int id : turn2) {
                b = stepwise.step(id);
            }
            assertTrue(maxDiff(a, b) < TOL, "" + maxDiff(a, b));
        }
    }

    @Test
    void embeddingPromptsMatchStepByStep() {
        try (Decoder d = Decoder.init(GQA, m, DataType.FLOAT32);
             CpuDecoder batched = new CpuDecoder(d, 128, 2);
             CpuDecoder stepwise = new CpuDecoder(d, 128, 1)) {
            int t = 50;
            int dim = GQA.hiddenSize();
            float[] rows = new float[t * dim]; // e.g. BOS, 36 image tokens, text: any embeddings
            Random r = new Random(3);
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (float) r.nextGaussian() * 0.5f;
            }
            float[] a = batched.prefill(rows, t).clone();
            float[] b = null;
            for (int i = 0; i < t; i++) {
                b = stepwise.step(java.util.Arrays.copyOfRange(rows, i * dim, (i + 1) * dim));
            }
            assertTrue(maxDiff(a, b) < TOL, "" + maxDiff(a, b));
        }
    }

    @Test
    void djlPrefillIsOneForwardThatMatchesStepByStep() {
        try (Decoder d = Decoder.init(GQA, m, DataType.FLOAT32)) {
            long[] prompt = java.util.Arrays.stream(ids(40, 9)).asLongStream().toArray();
            float[] batched;
            float[] stepwise = null;
            try (NDScope s = new NDScope(); KvCache kv = d.newCache(1, 64)) {
                NDArray h = d.embed(m.create(prompt, new Shape(1, prompt.length))); // (1, 40, D)
                batched = d.forward(h, null, kv, true).logits().toFloatArray(); // one pass over the block
                s.suppressNotUsedWarning();
            }
            try (NDScope s = new NDScope(); KvCache kv = d.newCache(1, 64)) {
                for (long id : prompt) {
                    NDArray h = d.embed(m.create(new long[] {id}, new Shape(1, 1)));
                    stepwise = d.forward(h, null, kv, true).logits().toFloatArray();
                }
                s.suppressNotUsedWarning();
            }
            assertTrue(maxDiff(batched, stepwise) < TOL, "" + maxDiff(batched, stepwise));
            try (CpuDecoder cpu = new CpuDecoder(d, 64, 2)) {
                float[] cpuLogits = cpu.prefill(java.util.Arrays.stream(prompt).mapToInt(x -> (int) x).toArray());
                assertTrue(maxDiff(cpuLogits, batched) < TOL, "CPU vs DJL prefill: " + maxDiff(cpuLogits, batched));
            }
        }
    }
}
