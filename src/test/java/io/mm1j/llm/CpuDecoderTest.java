package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.MoeConfig;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Sampler;
import io.mm1j.train.AdamW;
import io.mm1j.train.LmStep;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The plain-Java decode path must compute what the DJL decoder computes. */
class CpuDecoderTest extends ManagedNdTest {
    /** max |a[i] − b[bOffset + i]|. */
    static double maxDiff(float[] a, float[] b, int bOffset) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[bOffset + i]));
        }
        return worst;
    }

    @Test
    void stepLogitsEqualTheFullSequenceForwardForGqaAndTiedModels() {
        for (LlmConfig c : new LlmConfig[] {LlmConfig.llama(300, 64, 160, 3, 8, 2, 64, false),
            LlmConfig.llama(300, 48, 96, 2, 4, 4, 64, true)}) {
            try (Decoder d = Decoder.init(c, m, DataType.FLOAT32)) {
                long[] ids = {1, 17, 250, 3, 99, 42, 7, 7, 200, 2};
                float[] full = d.forward(m.create(ids, new Shape(1, ids.length))).logits().toFloatArray();
                try (CpuDecoder cpu = new CpuDecoder(d, 32, 2)) {
                    for (int t = 0; t < ids.length; t++) {
                        float[] step = cpu.step((int) ids[t]);
                        double diff = maxDiff(step, full, t * c.vocabSize());
                        assertTrue(diff < 1e-5, "position " + t + ": max |Δlogit| " + diff);
                    }
                }
            }
        }
    }

    @Test
    void generatorGivesTheSameTokensOnBothPaths() {
        LlmConfig c = LlmConfig.llama(200, 64, 128, 2, 4, 2, 96, false);
        try (Decoder d = Decoder.init(c, m, DataType.FLOAT32)) {
            long[] prompt = {1, 5, 9, 13};
            List<Integer> cpu = run(d, DecodePath.CPU, prompt, Sampler.ARGMAX);
            List<Integer> cpuSampled = run(d, DecodePath.CPU, prompt, Sampler.of(0.8, 0.95, 9));
            assertEquals(cpu, run(d, DecodePath.DJL, prompt, Sampler.ARGMAX));
            assertEquals(cpuSampled, run(d, DecodePath.DJL, prompt, Sampler.of(0.8, 0.95, 9)));
            assertEquals(40, cpu.size());
        }
    }

    /** The DJL path is a per-generator choice: it never builds the CPU snapshot, and the default path still does. */
    @Test
    void djlPathNeverTouchesTheCpuDecoder() {
        try (Decoder d = Decoder.init(LlmConfig.llama(100, 32, 64, 1, 4, 2, 64, true), m, DataType.FLOAT32)) {
            assertEquals(40, run(d, DecodePath.DJL, new long[] {1}, Sampler.ARGMAX).size());
            assertFalse(d.hasCpuDecoder(), "no weight snapshot (nor its threads) for a DJL-path generation");
            run(d, DecodePath.CPU, new long[] {1}, Sampler.ARGMAX);
            assertTrue(d.hasCpuDecoder(), "the default path builds it");
        }
    }

    private static List<Integer> run(Decoder d, DecodePath path, long[] prompt, Sampler s) {
        List<Integer> out = new ArrayList<>();
        new Generator(d, path).generate(prompt, 40, s, Set.of(), out::add);
        return out;
    }

    @Test
    void weightsChangedByTrainingAreSeenByTheNextGeneration() {
        LlmConfig c = LlmConfig.llama(100, 32, 64, 1, 4, 2, 64, true);
        try (Decoder d = Decoder.init(c, m, DataType.FLOAT32)) {
            CpuDecoder before = d.cpuDecoder();
            assertNotNull(before);
            d.params().enableGradients();
            NDArray tokens = m.randomInteger(3, 100, new Shape(2, 9), DataType.INT64);
            try (AdamW opt = AdamW.standard(d.params())) {
                LmStep.run(d, opt, tokens.get(":, :-1"), tokens.get(":, 1:"), null, 1e-2, 0, 1.0);
            }
            CpuDecoder after = d.cpuDecoder();
            assertNotSame(before, after, "a snapshot of stale weights must not be reused");
            float[] expected = d.forward(m.create(new long[] {4}, new Shape(1, 1))).logits().toFloatArray();
            assertTrue(maxDiff(after.step(4), expected, 0) < 1e-5);
        }
    }

    @Test
    void simdAndScalarDotProductsAgree() {
        assertTrue(Dot.VECTOR, "tests run with --add-modules jdk.incubator.vector, so the SIMD kernel is exercised");
        java.util.SplittableRandom r = new java.util.SplittableRandom(4);
        for (int n : new int[] {1, 7, 8, 15, 16, 63, 64, 65, 172, 513}) {
            float[] a = new float[n + 5];
            float[] b = new float[n + 3];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) r.nextGaussian();
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) r.nextGaussian();
            }
            double exact = 0;
            for (int i = 0; i < n; i++) {
                exact += (double) a[5 + i] * b[3 + i];
            }
            assertEquals(exact, Dot.dot(a, 5, b, 3, n), 1e-4 * Math.sqrt(n), "simd n=" + n);
            assertEquals(exact, Dot.scalar(a, 5, b, 3, n), 1e-4 * Math.sqrt(n), "scalar n=" + n);
        }
    }

    @Test
    void moeAndFloat64ModelsUseTheDjlPath() {
        Decoder moe = Decoder.init(LlmConfig.llama(50, 16, 24, 2, 2, 2, 16, false)
                .withMoe(new MoeConfig(4, 2, 2, 0, 0.01, 0.001, 0)), m, DataType.FLOAT32);
        assertFalse(CpuDecoder.supports(moe));
        Decoder f64 = Decoder.init(LlmConfig.llama(50, 16, 24, 1, 2, 2, 16, false), m, DataType.FLOAT64);
        assertFalse(CpuDecoder.supports(f64));
    }
}
