package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.MoeConfig;
import io.mm1j.nn.ParamStore;
import org.junit.jupiter.api.Test;

/**
 * The router losses of an MoE layer recomputed in plain Java from its gate weights (Switch/GShard balance loss
 * E·Σ f_e·P_e, ST-MoE z-loss mean lse²) over the real tokens only, and the objective's term
 * 0.01·balance + 0.001·z (MM1 §3.3).
 */
class MoeRouterLossTest extends ManagedNdTest {
    @Test
    void balanceAndZLossMatchAPlainJavaReferenceAndEnterTheObjectiveWithMm1sCoefficients() {
        int d = 16;
        int e = 4;
        LlmConfig c = LlmConfig.llama(30, d, 24, 1, 2, 2, 16, false).withMoe(MoeConfig.mm1(e, 1));
        assertEquals(0.01, c.moe().balanceCoef());
        assertEquals(0.001, c.moe().zLossCoef());
        try (ParamStore p = new ParamStore(m, DataType.FLOAT64)) {
            MoeFeedForward.init(p, c, 0, 0.7, 0.5);
            int n = 7;
            float[] keep = {1, 1, 0, 1, 1, 1, 0}; // two padding positions
            NDArray x = m.randomNormal(0, 1, new Shape(1, n, d), DataType.FLOAT64);
            MoeFeedForward.Output o = MoeFeedForward.forward(p, c, 0, x, keep);

            double[] xs = x.toDoubleArray();
            double[] w = p.get(MoeFeedForward.prefix(0) + "gate.weight").toDoubleArray(); // (E, D)
            int[] load = new int[e];
            double[] meanP = new double[e];
            double z = 0;
            int real = 0;
            for (int t = 0; t < n; t++) {
                if (keep[t] == 0) {
                    continue;
                }
                real++;
                double[] logit = new double[e];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < e; j++) {
                    for (int k = 0; k < d; k++) {
                        logit[j] += xs[t * d + k] * w[j * d + k];
                    }
                    max = Math.max(max, logit[j]);
                }
                double sum = 0;
                for (double l : logit) {
                    sum += Math.exp(l - max);
                }
                double lse = max + Math.log(sum);
                z += lse * lse;
                int first = -1;
                int second = -1;
                for (int j = 0; j < e; j++) {
                    double pj = Math.exp(logit[j] - lse);
                    meanP[j] += pj;
                    if (first < 0 || logit[j] > logit[first]) {
                        second = first;
                        first = j;
                    } else if (second < 0 || logit[j] > logit[second]) {
                        second = j;
                    }
                }
                load[first]++;
                load[second]++;
            }
            double balance = 0;
            for (int j = 0; j < e; j++) {
                balance += (load[j] / (2.0 * real)) * (meanP[j] / real);
            }
            balance *= e;
            z /= real;

            assertArrayEquals(load, o.expertLoad(), "top-2 assignments of the 5 real tokens");
            assertEquals(balance, o.routerLosses().balance(), 1e-12);
            assertEquals(z, o.routerLosses().z(), 1e-12);
            assertEquals(0.01 * balance + 0.001 * z, o.auxLoss().getDouble(), 1e-12);
        }
    }
}
