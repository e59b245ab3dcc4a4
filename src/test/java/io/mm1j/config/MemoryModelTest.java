package io.mm1j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import org.junit.jupiter.api.Test;

class MemoryModelTest {
    @Test
    void stateIsWeightsGradientsAndTwoMomentsOfTheTrainedLlm() {
        LlmConfig c = Presets.load("mini").llm();
        long p = ParamCount.llm(c).total();
        MemoryModel.Estimate e = MemoryModel.training(c, p, 8, 256, 4, false);
        assertEquals(4 * p, e.weights());
        assertEquals(4 * p, e.gradients());
        assertEquals(8 * p, e.adamMoments());
        assertEquals(e.runtime() + 16 * p + Math.max(e.activations(), e.optimizerTemporaries()), e.peak());
    }

    @Test
    void oneDenseLayerCountsItsIntermediatesOpByOp() {
        // B=1, T=2, D=4, F=6, 2 heads of 2, 1 KV head: Q=4, K=2
        LlmConfig c = LlmConfig.llama(10, 4, 6, 1, 2, 1, 8, true);
        long attention = 5 * 2 * 4 + 7 * 2 * 4 + 6 * 2 * 2 + 4 * 2 * 2 * 2 + 3 * 2; // 40 + 56 + 24 + 32 + 6
        long ffn = 5 * 2 * 4 + 5 * 2 * 6 + 3 * 2; // 40 + 60 + 6
        assertEquals(attention + ffn, MemoryModel.layer(c, 0, 1, 2, 2));
        long head = 3 * 2 * 4 + 3 * 2 + 4 * 2 * 10; // norm, logits, log-softmax and their gradients
        assertEquals(2 * 4 + attention + ffn + head, MemoryModel.plain(c, 1, 2, 2));
        // in float32 (4 bytes, fused kernels on) the attention keeps a log-sum-exp per query and head (B·H·T = 4)
        // instead of the 4·B·H·T² scores, the paired RoPE no swapped halves or products (3·B·T·(Q + K) = 36) but
        // the q and k weights in pair order ((Q + K)·D = 24), the SiLU no σ(gate) (B·T·F = 12), each RMSNorm no x²
        // (B·T·D = 8)
        assertEquals(attention - 4 * 2 * 2 * 2 + 2 * 2 - 3 * 2 * (4 + 2) + (4 + 2) * 4 + ffn - 2 * 6 - 2 * 8,
                MemoryModel.layer(c, 0, 1, 2, 4));
    }

    @Test
    void checkpointingKeepsOneLayerAndTheSegmentInputsSoDeepModelsSaveMost() {
        LlmConfig c = Presets.load("ablation-1.2b").llm();
        long plain = MemoryModel.training(c, 1, 1, 2048, 4, false).activations();
        long ckpt = MemoryModel.training(c, 1, 1, 2048, 4, true).activations();
        assertTrue(plain > 3 * ckpt, "21 layers: plain " + plain + " vs checkpointed " + ckpt);
    }

    @Test
    void nonPositiveBatchIsAClearError() {
        LlmConfig c = Presets.load("mini").llm();
        assertThrows(Mm1Exception.class, () -> MemoryModel.training(c, 1, 0, 256, 4, false));
    }
}
