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

    @Test
    void expIsWithinTwoUlpOfMathExpAndZeroBelowTheNormalRange() {
        Random r = new Random(7);
        for (int i = 0; i < 200_000; i++) {
            float x = i < 1000 ? -87.3f + i * 0.0873f : (float) (r.nextDouble() * 175.3 - 87.33);
            if (x < Dot.EXP_MIN || x > Dot.EXP_MAX) {
                continue;
            }
            double want = Math.exp(x);
            assertEquals(want, Dot.exp(x), 2.4e-7 * want, "x = " + x);
        }
        assertEquals(1f, Dot.exp(0f));
        assertEquals(0f, Dot.exp(-87.4f));
        assertEquals(0f, Dot.exp(-1000f));
        assertEquals(0f, Dot.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, Dot.exp(Float.NaN));
    }

    @Test
    void simdExpGivesTheScalarExpBitForBitInEveryJitTier() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Dot.VECTOR, "the Vector API module is not loaded");
        Random r = new Random(8);
        int n = 67; // whole vectors and a tail
        float[] x = new float[n];
        for (int t = 0; t < n; t++) {
            x[t] = t < 8 ? new float[] {0, -87.33654f, -87.34f, -1e9f, Float.NEGATIVE_INFINITY, Float.NaN, 88f, 89f}[t]
                    : (float) (r.nextDouble() * 100 - 95);
        }
        float[] want = new float[n];
        double wantSum = 0;
        for (int t = 0; t < n; t++) {
            want[t] = Dot.exp(x[t]);
            wantSum += want[t];
        }
        // enough repetitions for the JIT to compile both forms mid-way: interpreted and compiled code must agree
        for (int rep = 0; rep < 30_000; rep++) {
            float[] simd = x.clone();
            float sum = Dot.expShifted(simd, n, 0f);
            if (!java.util.Arrays.equals(want, simd)) {
                for (int t = 0; t < n; t++) {
                    assertEquals(Float.floatToRawIntBits(want[t]), Float.floatToRawIntBits(simd[t]),
                            "repetition " + rep + ", x = " + x[t]);
                }
            }
            assertEquals(wantSum, sum, 1e-6 * wantSum);
            if (rep % 1000 == 0) {
                for (int t = 0; t < n; t++) {
                    want[t] = Dot.exp(x[t]); // the scalar form recompiled too
                }
            }
        }
    }

    @Test
    void rotateHalvesGivesTheScalarBitsAndLeavesTheRestAlone() {
        Random r = new Random(11);
        for (int half : new int[] {1, 4, 16, 20, 32, 40}) { // below, at and past a vector, with tails
            float[] cos = new float[3 * half + 2];
            float[] sin = new float[cos.length];
            for (int i = 0; i < cos.length; i++) {
                double angle = r.nextDouble() * 7;
                cos[i] = (float) Math.cos(angle);
                sin[i] = (float) Math.sin(angle);
            }
            float[] v = new float[2 * half + 5];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextGaussian() * 3;
            }
            int o = 3;
            int c = half + 1;
            float[] want = v.clone();
            for (int i = 0; i < half; i++) {
                float a = v[o + i];
                float b = v[o + i + half];
                want[o + i] = a * cos[c + i] - b * sin[c + i];
                want[o + i + half] = b * cos[c + i] + a * sin[c + i];
            }
            float[] got = v.clone();
            Dot.rotateHalves(got, o, half, cos, sin, c);
            for (int i = 0; i < v.length; i++) {
                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                        "half " + half + ", index " + i);
            }
        }
    }
}
