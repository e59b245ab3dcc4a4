package io.mm1j.encoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.Attention;
import io.mm1j.vision.VisionTransformer;
import org.junit.jupiter.api.Test;

/** AIM's prefix-causal attention mask, its loss positions, normalised patch targets and masked MSE (vs torch). */
class AimObjectiveTest {
    private static final float X = (float) Attention.MASKED;

    @Test
    void prefixCausalMaskLetsThePrefixSeeItselfAndTheRestOnlyThePast() {
        // T = 1 + 4 patches; image 0 with prefix K = 1 (CLS + patch 1 bidirectional), image 1 with K = 3
        float[] m = AimObjective.prefixCausalMask(new int[] {1, 3}, 5);
        assertEquals(2 * 5 * 5, m.length); // (B, T, T)
        float[] k1 = {
            0, 0, X, X, X,   // CLS sees the prefix (itself and patch 1)
            0, 0, X, X, X,   // patch 1 (in the prefix) sees CLS and itself
            0, 0, 0, X, X,   // patch 2: causal
            0, 0, 0, 0, X,
            0, 0, 0, 0, 0};
        float[] k3 = {
            0, 0, 0, 0, X,   // the prefix CLS + patches 1..3 is bidirectional
            0, 0, 0, 0, X,
            0, 0, 0, 0, X,
            0, 0, 0, 0, X,
            0, 0, 0, 0, 0};  // patch 4 after the prefix: sees everything before it
        assertArrayEquals(k1, java.util.Arrays.copyOfRange(m, 0, 25));
        assertArrayEquals(k3, java.util.Arrays.copyOfRange(m, 25, 50));
    }

    @Test
    void lossCoversOnlyPositionsAfterThePrefix() {
        // position q predicts patch q+1; with K prefix patches the positions q ≥ K carry loss
        assertArrayEquals(new float[] {0, 1, 1, 1, 0, 0, 0, 1}, AimObjective.lossWeights(new int[] {1, 3}, 4));
    }

    @Test
    void targetsAndMaskedLossMatchTorch() throws Exception {
        JsonNode ref = ContrastiveLossTest.reference();
        VisionConfig c = VisionConfig.builder().imageSize(4).patchSize(2).width(8).layers(1).heads(2).mlpDim(8)
                .build();
        try (NDManager m = TestSupport.root().newSubManager()) {
            VisionTransformer vit = VisionTransformer.init(c, m, DataType.FLOAT64);
            io.mm1j.nn.ShapeInit.init(vit.params(), AimObjective.headShapes(8, 2, 8), 0.02);
            AimObjective aim = new AimObjective(vit);
            NDArray pixels = m.create(ContrastiveLossTest.flat(ref.get("pixels")), new Shape(2, 3, 4, 4));
            NDArray targets = aim.targets(pixels); // (2, 4, 12)
            assertEquals(new Shape(2, 4, 12), targets.getShape());
            assertArrayEquals(ContrastiveLossTest.flat(ref.get("targets")), targets.toDoubleArray(), 1e-9);
            NDArray pred = m.create(ContrastiveLossTest.flat(ref.get("pred")), new Shape(2, 4, 12));
            int[] prefix = {ref.get("prefix").get(0).asInt(), ref.get("prefix").get(1).asInt()};
            assertEquals(ref.get("aimLoss").asDouble(), AimObjective.maskedMse(pred, targets, prefix).getDouble(),
                    1e-9);
            double full = aim.loss(pixels, prefix).getDouble(); // through the ViT and the head: finite, positive
            assertTrue(full > 0 && Double.isFinite(full), "loss " + full);
        }
    }

    @Test
    void theTrunkUnderTheMaskIgnoresFuturePatches() {
        // changing the last patch must not change the outputs at positions that cannot see it (all but the last)
        VisionConfig c = VisionConfig.builder().imageSize(8).patchSize(4).width(8).layers(2).heads(2).mlpDim(16)
                .build();
        try (NDManager m = TestSupport.root().newSubManager()) {
            VisionTransformer vit = VisionTransformer.init(c, m, DataType.FLOAT64);
            NDArray a = m.randomNormal(new Shape(1, 3, 8, 8)).toType(DataType.FLOAT64, false);
            NDArray b = a.duplicate();
            b.set(new ai.djl.ndarray.index.NDIndex(":, :, 4:, 4:"), 5.0); // patch 4 (bottom right) only
            NDArray mask = m.create(AimObjective.prefixCausalMask(new int[] {1}, 5), new Shape(1, 1, 1, 5, 5))
                    .toType(DataType.FLOAT64, false);
            double[] ha = vit.hidden(a, mask).get(":, 0:4, :").toDoubleArray();
            double[] hb = vit.hidden(b, mask).get(":, 0:4, :").toDoubleArray();
            assertArrayEquals(ha, hb, 1e-12);
            double[] lastA = vit.hidden(a, mask).get(":, 4, :").toDoubleArray();
            double[] lastB = vit.hidden(b, mask).get(":, 4, :").toDoubleArray();
            assertTrue(java.util.stream.IntStream.range(0, lastA.length).anyMatch(i -> lastA[i] != lastB[i]),
                    "the last position sees its own patch");
        }
    }
}
