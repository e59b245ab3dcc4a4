package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The decode path's attention helpers against double-precision references, across SIMD widths and tails. */
class DotTest {
    @Test
    void weightedRowsIsTheProbabilityWeightedSumOfTheRowsWithTails() {
        Random r = new Random(5);
        for (int n : new int[] {1, 7, 16, 64, 67}) { // output widths: below, at and past a vector, with a tail
            for (int rows : new int[] {1, 3, 33}) {
                int stride = n + 5;
                float[] p = new float[rows];
                float[] v = new float[3 + rows * stride];
                for (int t = 0; t < rows; t++) {
                    p[t] = r.nextFloat();
                }
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) r.nextGaussian();
                }
                float[] out = new float[n + 2];
                java.util.Arrays.fill(out, 99f); // overwritten, not accumulated into
                Dot.weightedRows(p, rows, v, 3, stride, out, 2, n);
                assertEquals(99f, out[0]);
                assertEquals(99f, out[1]);
                for (int i = 0; i < n; i++) {
                    double want = 0;
                    for (int t = 0; t < rows; t++) {
                        want += (double) p[t] * v[3 + t * stride + i];
                    }
                    assertEquals(want, out[2 + i], 1e-5 * rows, "n " + n + ", rows " + rows + ", i " + i);
                }
            }
        }
    }

    @Test
    void expShiftedGivesTheSoftmaxNumeratorsAndTheirSum() {
        Random r = new Random(6);
        for (int n : new int[] {1, 15, 16, 17, 100}) {
            float[] x = new float[n];
            for (int t = 0; t < n; t++) {
                x[t] = (float) (r.nextGaussian() * 4);
            }
            float max = Float.NEGATIVE_INFINITY;
            for (float f : x) {
                max = Math.max(max, f);
            }
            float[] before = x.clone();
            float sum = Dot.expShifted(x, n, max);
            double want = 0;
            for (int t = 0; t < n; t++) {
                double e = Math.exp(before[t] - max);
                assertEquals(e, x[t], 2e-7 * Math.max(e, 1e-30) + 1e-12, "n " + n + ", t " + t);
                want += e;
            }
            assertEquals(want, sum, 1e-6 * want, "sum, n " + n);
        }
    }
}
