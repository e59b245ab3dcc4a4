package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import io.mm1j.Mm1Exception;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.MoeConfig;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Sampler;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A decoder with int8 weights: the CPU path reads int8 and computes what the DJL path computes on its values. */
class Int8DecodeTest extends ManagedNdTest {
    /** GQA, untied head, and an FFN width (100) that is not a multiple of the group size: a short last group. */
    private static final LlmConfig GQA = LlmConfig.llama(300, 64, 100, 2, 8, 2, 128, false);
    private static final LlmConfig TIED = LlmConfig.llama(200, 48, 96, 2, 4, 4, 128, true);

    @Test
    void quantisingReplacesEveryMatrixByItsDequantisedValues() {
        try (Decoder d = Decoder.init(GQA, m, DataType.FLOAT32)) {
            float[] before = d.params().get("model.layers.1.mlp.down_proj.weight").toFloatArray();
            float[] norm = d.params().get(Decoder.NORM).toFloatArray();
            d.quantizeInt8(32);
            Int8Weights w = d.int8Weights();
            assertEquals(Int8Weights.matrixNames(GQA), List.copyOf(w.all().keySet()));
            assertEquals(2 + 7 * GQA.numLayers(), w.all().size(), "embedding, head and 7 matrices per layer");
            Int8Matrix down = w.get("model.layers.1.mlp.down_proj.weight");
            float[] after = d.params().get("model.layers.1.mlp.down_proj.weight").toFloatArray();
            assertArrayEquals(down.dequantize(), after);
            assertNotEquals(before[0], after[0], "the values changed (rounded to the int8 grid)");
            for (int i = 0; i < before.length; i++) {
                assertTrue(Math.abs(before[i] - after[i]) <= down.scales()[i / 100 * 4 + i % 100 / 32] / 2 * 1.0001f);
            }
            assertArrayEquals(norm, d.params().get(Decoder.NORM).toFloatArray(), "norms stay float32");
        }
    }

    @Test
    void int8StepAndPrefillLogitsEqualTheDjlForwardOnTheSameWeights() {
        for (LlmConfig c : new LlmConfig[] {GQA, TIED}) {
            try (Decoder d = Decoder.init(c, m, DataType.FLOAT32)) {
                d.quantizeInt8(32);
                long[] ids = new long[40];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = (i * 37 + 5) % c.vocabSize();
                }
                float[] full = d.forward(m.create(ids, new Shape(1, ids.length))).logits().toFloatArray();
                try (CpuDecoder cpu = new CpuDecoder(d, 64, 2)) {
                    assertTrue(cpu.int8());
                    for (int t = 0; t < ids.length; t++) {
                        double diff = CpuDecoderTest.maxDiff(cpu.step((int) ids[t]), full, t * c.vocabSize());
                        assertTrue(diff < 1e-4, "step at position " + t + ": max |Δlogit| " + diff);
                    }
                    for (int n : new int[] {1, 7, 37}) { // below and above the packed-prefill threshold
                        cpu.reset();
                        int[] prompt = new int[n];
                        for (int i = 0; i < n; i++) {
                            prompt[i] = (int) ids[i];
                        }
                        double diff = CpuDecoderTest.maxDiff(cpu.prefill(prompt), full, (n - 1) * c.vocabSize());
                        assertTrue(diff < 1e-4, "prefill of " + n + ": max |Δlogit| " + diff);
                    }
                }
            }
        }
    }

    @Test
    void greedyTokensAreTheSameOnTheInt8CpuPathAndTheDjlPath() {
        try (Decoder d = Decoder.init(GQA, m, DataType.FLOAT32)) {
            d.quantizeInt8(32);
            assertEquals(run(d, DecodePath.DJL), run(d, DecodePath.CPU));
            assertTrue(d.cpuDecoder().int8());
        }
    }

    @Test
    void theInt8CopyIsAboutAQuarterOfTheFloat32One() {
        try (Decoder d = Decoder.init(GQA, m, DataType.FLOAT32)) {
            long f32 = 4L * d.params().numel(); // the float32 values (the CPU path pads its packed panels)
            assertTrue(d.cpuDecoder().weightBytes() >= f32 - 4L * 6 * 64, "packed float32 copy");
            d.quantizeInt8(32);
            long int8 = d.cpuDecoder().weightBytes();
            // one byte per value plus a 4-byte scale per 32 values (per 100-column row: 4 scales for 100 bytes)
            assertTrue(int8 < f32 * 0.3 && int8 > f32 / 4, int8 + " bytes vs " + f32);
        }
    }

    @Test
    void changedWeightsAreQuantisedAgainForTheNextGeneration() {
        try (Decoder d = Decoder.init(TIED, m, DataType.FLOAT32)) {
            d.quantizeInt8(32);
            Int8Weights first = d.int8Weights();
            NDArray e = d.params().get(Decoder.EMBED);
            d.params().put(Decoder.EMBED, e.mul(2));
            Int8Weights second = d.int8Weights();
            assertNotEquals(first, second);
            Int8Matrix a = first.get(Decoder.EMBED);
            Int8Matrix b = second.get(Decoder.EMBED);
            assertArrayEquals(a.values(), b.values(), "doubling the values keeps the int8 grid");
            assertEquals(2 * a.scales()[0], b.scales()[0], 1e-7);
            assertTrue(d.cpuDecoder().int8());
        }
    }

    @Test
    void quantisationAppliesOnlyWhenAskedAndRefusesMoe() {
        try (Decoder d = Decoder.init(TIED, m, DataType.FLOAT32)) {
            Quantization.NONE.apply(d);
            assertNull(d.int8Weights());
            assertFalse(d.cpuDecoder().int8());
            Quantization.of("int8").apply(d);
            assertTrue(d.cpuDecoder().int8());
        }
        Mm1Exception bad = assertThrows(Mm1Exception.class, () -> Quantization.of("int4"));
        assertEquals("--quantize must be one of [none, int8], got int4", bad.getMessage());
        LlmConfig moe = LlmConfig.llama(50, 16, 24, 2, 2, 2, 16, false)
                .withMoe(new MoeConfig(4, 2, 2, 0, 0.01, 0.001, 0));
        try (Decoder d = Decoder.init(moe, m, DataType.FLOAT32)) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> Quantization.INT8.apply(d));
            assertTrue(e.getMessage().startsWith("int8 weights cover dense decoders"), e.getMessage());
        }
    }

    private static List<Integer> run(Decoder d, DecodePath path) {
        List<Integer> out = new ArrayList<>();
        new Generator(d, path).generate(new long[] {1, 5, 9, 13}, 40, Sampler.ARGMAX, Set.of(), out::add);
        return out;
    }
}
