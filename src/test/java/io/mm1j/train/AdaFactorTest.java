package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mm1j.ManagedNdTest;
import io.mm1j.nn.ParamStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AdaFactorTest extends ManagedNdTest {
    /**
     * Three steps on a 2×3 matrix (factored statistics, decayed) and a 3-vector (full statistics) equal the
     * paper's algorithm as transcribed in torch by {@code scripts/adafactor_reference.py} (committed output).
     */
    @Test
    void threeStepsMatchTheTorchTranscription() throws IOException {
        Map<String, double[]> ref = reference();
        double[][] gw = {{0.2, -0.1, 0.4, -0.3, 0.05, 0.6}, {-0.1, 0.3, 0.2, 0.7, -0.2, 0.1},
                {1.0, -2.0, 0.5, 0.0, 0.3, -0.4}};
        double[][] gb = {{0.01, -0.5, 2.0}, {0.3, 0.2, -0.1}, {-1.0, 0.0, 0.5}};
        try (ParamStore p = new ParamStore(m, DataType.FLOAT64)) {
            NDArray w = p.put("w", m.create(new double[] {0.5, -1.0, 2.0, 1.5, 0.25, -0.75}, new Shape(2, 3)));
            NDArray b = p.put("b", m.create(new double[] {0.1, -0.2, 0.3}, new Shape(3)));
            p.enableGradients();
            try (AdaFactor opt = new AdaFactor(p, AdaFactor.Settings.defaults())) {
                for (int t = 0; t < 3; t++) {
                    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                        NDArray loss = w.mul(m.create(gw[t], new Shape(2, 3))).sum()
                                .add(b.mul(m.create(gb[t], new Shape(3))).sum()); // ∂/∂w = gw, ∂/∂b = gb
                        gc.backward(loss);
                    }
                    assertTrue(opt.step(0.01, 0.1));
                }
                assertArrayEquals(ref.get("W"), w.toDoubleArray(), 1e-10);
                assertArrayEquals(ref.get("B"), b.toDoubleArray(), 1e-10);
                assertArrayEquals(ref.get("R"), opt.state().get("row.w").toDoubleArray(), 1e-10);
                assertArrayEquals(ref.get("C"), opt.state().get("col.w").toDoubleArray(), 1e-10);
                // 2 + 3 statistics for the matrix, 3 for the vector: AdamW would keep 2 · 9
                assertEquals(8 * 8, opt.stateBytes());
            }
        }
    }

    private static Map<String, double[]> reference() throws IOException {
        Map<String, double[]> out = new HashMap<>();
        try (InputStream in = AdaFactorTest.class.getResourceAsStream("/adafactor_reference.txt")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String[] f = line.trim().split(" ");
                out.put(f[0], Arrays.stream(f, 1, f.length).mapToDouble(Double::parseDouble).toArray());
            }
        }
        return out;
    }
}
