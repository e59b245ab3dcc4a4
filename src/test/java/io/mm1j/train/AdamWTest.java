package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mm1j.ManagedNdTest;
import io.mm1j.nn.ParamStore;
import org.junit.jupiter.api.Test;

class AdamWTest extends ManagedNdTest {
    /** One AdamW step from zero moments equals the closed form: p − lr·g/(|g| + ε) − lr·wd·p (for 2-D p). */
    @Test
    void firstStepMatchesTheClosedForm() {
        try (ParamStore p = new ParamStore(m, DataType.FLOAT64)) {
            NDArray w = p.put("w", m.create(new double[] {1, -2, 3, 0.5}, new Shape(2, 2)));
            p.enableGradients();
            NDArray target = m.create(new double[] {0, 0, 0, 0}, new Shape(2, 2));
            try (AdamW opt = new AdamW(p, 0.9, 0.95, 1e-8)) {
                try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    gc.backward(w.sub(target).square().sum()); // g = 2w
                }
                assertTrue(opt.step(0.1, 0.5));
            }
            double[] expected = new double[4];
            double[] before = {1, -2, 3, 0.5};
            for (int i = 0; i < 4; i++) {
                double g = 2 * before[i];
                expected[i] = before[i] * (1 - 0.1 * 0.5) - 0.1 * g / (Math.abs(g) + 1e-8);
            }
            assertArrayEquals(expected, w.toDoubleArray(), 1e-12);
        }
    }

    @Test
    void nonFiniteGradientSkipsTheStepAndLeavesParametersIntact() {
        try (ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            NDArray w = p.put("w", m.create(new float[] {1, 2}, new Shape(1, 2)));
            p.enableGradients();
            try (AdamW opt = AdamW.standard(p)) {
                try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    gc.backward(w.log().sum().mul(m.create(Float.NaN)));
                }
                assertFalse(opt.step(0.1, 0.1));
            }
            assertArrayEquals(new float[] {1, 2}, w.toFloatArray());
        }
    }

    @Test
    void emptyLossMaskGivesZeroNotNaN() {
        NDArray logits = m.randomNormal(0, 1, new Shape(1, 3, 5), DataType.FLOAT32);
        NDArray targets = m.create(new long[] {1, 2, 3}, new Shape(1, 3));
        NDArray mask = m.zeros(new Shape(1, 3), DataType.FLOAT32);
        assertEquals(0.0, Losses.crossEntropy(logits, targets, mask).getFloat(), 0.0);
    }

    @Test
    void weightDecayConventionsAgree() {
        double n = 3e9;
        assertEquals(0.1, LrLaw.MM1.torchWeightDecay(n), 1e-15);
        assertEquals(LrLaw.MM1.weightDecay(n), LrLaw.MM1.peakLr(n) * LrLaw.MM1.torchWeightDecay(n), 1e-18);
    }
}
