package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import io.mm1j.Mm1Exception;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.MoeConfig;
import io.mm1j.mllm.Sampler;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.KvCache;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Batched decoding of several sequences with their own KV caches (continuous batching): on the CPU path every
 * sequence's logits are bit-for-bit those of decoding it alone; on the DJL path they match to float tolerance.
 */
class BatchedDecodeTest extends ManagedNdTest {
    /**
     * Prompts of 1 (fed alone as a decode step, batched as a row of the row-by-row kernel), 3 (row-by-row kernel),
     * 9 (tiled) and 300 (two prefill chunks, the second tiled) tokens.
     */
    private static int[][] prompts(int vocab) {
        Random r = new Random(5);
        int[][] p = {new int[1], new int[3], new int[9], new int[300]};
        for (int[] one : p) {
            for (int i = 0; i < one.length; i++) {
                one[i] = 1 + r.nextInt(vocab - 1);
            }
        }
        return p;
    }

    @Test
    void batchedPrefillAndStepsGiveExactlyTheLogitsOfEachSequenceAlone() {
        batchedEqualsAlone(LlmConfig.llama(300, 64, 160, 2, 8, 2, 320, false), false);
    }

    /**
     * The same with int8 weights wide enough for the kernel's blocked layout (hidden 512: one block per row;
     * intermediate 1100: blocks and a tail with a partial group).
     */
    @Test
    void int8BatchedPrefillAndStepsGiveExactlyTheLogitsOfEachSequenceAlone() {
        batchedEqualsAlone(LlmConfig.llama(300, 512, 1100, 1, 8, 2, 320, false), true);
    }

    private void batchedEqualsAlone(LlmConfig c, boolean int8) {
        try (Decoder d = Decoder.init(c, m, DataType.FLOAT32)) {
            if (int8) {
                d.quantizeInt8(Int8Matrix.DEFAULT_GROUP);
            }
            batchedEqualsAlone(c, d, int8);
        }
    }

    private void batchedEqualsAlone(LlmConfig c, Decoder d, boolean int8) {
        try (CpuDecoder cpu = new CpuDecoder(d, 320, 2)) {
            assertEquals(int8, cpu.int8(), "the CPU path reads int8 weights");
            int[][] prompts = prompts(c.vocabSize());
            int steps = 6;
            // alone: the decoder's own cache, prefill then greedy steps
            float[][][] alone = new float[prompts.length][steps + 1][];
            for (int s = 0; s < prompts.length; s++) {
                cpu.ensureCapacity(320);
                alone[s][0] = cpu.prefill(prompts[s]).clone();
                for (int k = 1; k <= steps; k++) {
                    alone[s][k] = cpu.step(Sampler.argmax(alone[s][k - 1])).clone();
                }
            }
            // together: one batched prefill, then batched steps
            CpuDecoder.Sequence[] seqs = new CpuDecoder.Sequence[prompts.length];
            float[][] rows = new float[prompts.length][];
            for (int s = 0; s < prompts.length; s++) {
                seqs[s] = cpu.newSequence(prompts[s].length + steps);
                rows[s] = cpu.embeddings(prompts[s]);
            }
            float[][] first = cpu.prefill(seqs, rows);
            int[] next = new int[prompts.length];
            for (int s = 0; s < prompts.length; s++) {
                assertArrayEquals(alone[s][0], first[s], "prefill logits of prompt " + s);
                next[s] = Sampler.argmax(first[s]);
                assertEquals(prompts[s].length, seqs[s].position());
            }
            for (int k = 1; k <= steps; k++) {
                float[] logits = cpu.step(seqs, next);
                for (int s = 0; s < prompts.length; s++) {
                    float[] row = Arrays.copyOfRange(logits, s * c.vocabSize(), (s + 1) * c.vocabSize());
                    assertArrayEquals(alone[s][k], row, "step " + k + " of sequence " + s);
                    next[s] = Sampler.argmax(row);
                }
            }
            // a sequence's cache is full after prompt + steps positions (the first one: 1 + 6)
            Mm1Exception full = assertThrows(Mm1Exception.class, () -> cpu.step(seqs, next));
            assertEquals("KV cache full: capacity 7", full.getMessage());
        }
    }

    @Test
    void aSequenceJoiningLaterDoesNotChangeTheOthers() {
        LlmConfig c = LlmConfig.llama(300, 48, 96, 2, 4, 4, 64, true);
        try (Decoder d = Decoder.init(c, m, DataType.FLOAT32); CpuDecoder cpu = new CpuDecoder(d, 64, 2)) {
            int[] a = {1, 10, 20, 30, 40, 50, 60};
            int[] b = {1, 77};
            CpuDecoder.Sequence sa = cpu.newSequence(32);
            float[] la = cpu.prefill(new CpuDecoder.Sequence[] {sa}, new float[][] {cpu.embeddings(a)})[0];
            float[] aAlone = cpu.step(new CpuDecoder.Sequence[] {sa}, new int[] {Sampler.argmax(la)});
            // same again, with b prefilled between a's prefill and a's step, then stepped alongside
            CpuDecoder.Sequence sa2 = cpu.newSequence(32);
            CpuDecoder.Sequence sb = cpu.newSequence(32);
            float[] la2 = cpu.prefill(new CpuDecoder.Sequence[] {sa2}, new float[][] {cpu.embeddings(a)})[0];
            float[] lb = cpu.prefill(new CpuDecoder.Sequence[] {sb}, new float[][] {cpu.embeddings(b)})[0];
            float[] both = cpu.step(new CpuDecoder.Sequence[] {sb, sa2},
                    new int[] {Sampler.argmax(lb), Sampler.argmax(la2)});
            assertArrayEquals(aAlone, Arrays.copyOfRange(both, c.vocabSize(), 2 * c.vocabSize()));
            Mm1Exception twice = assertThrows(Mm1Exception.class, () -> cpu.step(new CpuDecoder.Sequence[] {sb, sb},
                    new int[] {1, 1}));
            assertEquals("step: sequence 1 appears twice in one batch", twice.getMessage());
        }
    }

    @Test
    void djlBatchedStepMatchesEachSequenceAlone() {
        LlmConfig dense = LlmConfig.llama(300, 64, 160, 2, 8, 2, 64, false);
        // MoE models only decode on the DJL path: their batched step routes each row on its own
        LlmConfig moe = LlmConfig.llama(300, 32, 64, 2, 4, 2, 64, false).withMoe(new MoeConfig(4, 2, 2, 0, 0.01, 0.001,
                0));
        for (LlmConfig c : new LlmConfig[] {dense, moe}) {
            djlStep(c);
        }
    }

    private void djlStep(LlmConfig c) {
        try (Decoder d = Decoder.init(c, m, DataType.FLOAT32)) {
            long[][] prompts = {{1, 4, 9}, {1, 200, 17, 33, 5, 8, 90}, {1}};
            BlockScope.noGrad(() -> {
                try (NDScope scope = new NDScope()) {
                    KvCache[] caches = new KvCache[prompts.length];
                    float[][] alone = new float[prompts.length][];
                    int[] next = new int[prompts.length];
                    for (int s = 0; s < prompts.length; s++) {
                        // alone: the prompt plus one token through the ordinary cached forward
                        try (KvCache kv = d.newCache(1, 16)) {
                            float[] l = d.forward(d.embed(m.create(prompts[s], new Shape(1, prompts[s].length))),
                                    null, kv, true).logits().toFloatArray();
                            next[s] = Sampler.argmax(l);
                            alone[s] = d.forward(d.embed(m.create(new long[] {next[s]}, new Shape(1, 1))), null, kv,
                                    true).logits().toFloatArray();
                        }
                        caches[s] = d.newCache(1, 16);
                        d.forward(d.embed(m.create(prompts[s], new Shape(1, prompts[s].length))), null, caches[s],
                                true);
                    }
                    long[] ids = Arrays.stream(next).asLongStream().toArray();
                    NDArray logits = d.stepBatch(d.embed(m.create(ids, new Shape(ids.length, 1))), caches);
                    assertEquals(new Shape(3, 1, c.vocabSize()), logits.getShape());
                    float[] all = logits.toFloatArray();
                    for (int s = 0; s < prompts.length; s++) {
                        float[] row = Arrays.copyOfRange(all, s * c.vocabSize(), (s + 1) * c.vocabSize());
                        double worst = 0;
                        for (int i = 0; i < row.length; i++) {
                            worst = Math.max(worst, Math.abs(row[i] - alone[s][i]));
                        }
                        assertTrue(worst < 1e-5, "sequence " + s + ": max |Δlogit| " + worst);
                        assertEquals(Sampler.argmax(alone[s]), Sampler.argmax(row));
                        assertEquals(prompts[s].length + 1, caches[s].length());
                        caches[s].close();
                    }
                    scope.suppressNotUsedWarning();
                }
                return null;
            });
        }
    }
}
