package io.mm1j.llm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD kernels of the batched prefill ({@link Gemm}) on the JDK Vector API; loaded only when the incubator module is
 * present. The matrix product is a 4 × 4 register tile: four weight rows against four token rows, sixteen vector
 * accumulators, so every weight vector loaded serves four tokens and every token vector four weight rows.
 */
final class VectorGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private VectorGemm() {}

    /**
     * c[(t0 + i) · ldc + n0 + j] = a[t0 + i, :] · w[n0 + j, :] for i, j in [0, 4); rows of length k, a and w
     * row-major with row strides k.
     */
    static void tile4x4(float[] a, int t0, float[] w, int n0, int k, float[] c, int ldc) {
        int l = S.length();
        int a0 = t0 * k;
        int a1 = a0 + k;
        int a2 = a1 + k;
        int a3 = a2 + k;
        int w0 = n0 * k;
        int w1 = w0 + k;
        int w2 = w1 + k;
        int w3 = w2 + k;
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c01 = c00;
        FloatVector c02 = c00;
        FloatVector c03 = c00;
        FloatVector c10 = c00;
        FloatVector c11 = c00;
        FloatVector c12 = c00;
        FloatVector c13 = c00;
        FloatVector c20 = c00;
        FloatVector c21 = c00;
        FloatVector c22 = c00;
        FloatVector c23 = c00;
        FloatVector c30 = c00;
        FloatVector c31 = c00;
        FloatVector c32 = c00;
        FloatVector c33 = c00;
        int i = 0;
        for (; i + l <= k; i += l) {
            FloatVector v0 = FloatVector.fromArray(S, w, w0 + i);
            FloatVector v1 = FloatVector.fromArray(S, w, w1 + i);
            FloatVector v2 = FloatVector.fromArray(S, w, w2 + i);
            FloatVector v3 = FloatVector.fromArray(S, w, w3 + i);
            FloatVector x = FloatVector.fromArray(S, a, a0 + i);
            c00 = v0.fma(x, c00);
            c01 = v1.fma(x, c01);
            c02 = v2.fma(x, c02);
            c03 = v3.fma(x, c03);
            x = FloatVector.fromArray(S, a, a1 + i);
            c10 = v0.fma(x, c10);
            c11 = v1.fma(x, c11);
            c12 = v2.fma(x, c12);
            c13 = v3.fma(x, c13);
            x = FloatVector.fromArray(S, a, a2 + i);
            c20 = v0.fma(x, c20);
            c21 = v1.fma(x, c21);
            c22 = v2.fma(x, c22);
            c23 = v3.fma(x, c23);
            x = FloatVector.fromArray(S, a, a3 + i);
            c30 = v0.fma(x, c30);
            c31 = v1.fma(x, c31);
            c32 = v2.fma(x, c32);
            c33 = v3.fma(x, c33);
        }
        int r0 = t0 * ldc + n0;
        int r1 = r0 + ldc;
        int r2 = r1 + ldc;
        int r3 = r2 + ldc;
        c[r0] = c00.reduceLanes(VectorOperators.ADD);
        c[r0 + 1] = c01.reduceLanes(VectorOperators.ADD);
        c[r0 + 2] = c02.reduceLanes(VectorOperators.ADD);
        c[r0 + 3] = c03.reduceLanes(VectorOperators.ADD);
        c[r1] = c10.reduceLanes(VectorOperators.ADD);
        c[r1 + 1] = c11.reduceLanes(VectorOperators.ADD);
        c[r1 + 2] = c12.reduceLanes(VectorOperators.ADD);
        c[r1 + 3] = c13.reduceLanes(VectorOperators.ADD);
        c[r2] = c20.reduceLanes(VectorOperators.ADD);
        c[r2 + 1] = c21.reduceLanes(VectorOperators.ADD);
        c[r2 + 2] = c22.reduceLanes(VectorOperators.ADD);
        c[r2 + 3] = c23.reduceLanes(VectorOperators.ADD);
        c[r3] = c30.reduceLanes(VectorOperators.ADD);
        c[r3 + 1] = c31.reduceLanes(VectorOperators.ADD);
        c[r3 + 2] = c32.reduceLanes(VectorOperators.ADD);
        c[r3 + 3] = c33.reduceLanes(VectorOperators.ADD);
        for (; i < k; i++) { // k not a multiple of the vector length: the last columns one by one
            for (int ti = 0; ti < 4; ti++) {
                for (int nj = 0; nj < 4; nj++) {
                    c[(t0 + ti) * ldc + n0 + nj] += a[(t0 + ti) * k + i] * w[(n0 + nj) * k + i];
                }
            }
        }
    }

    /** y[yo..yo+n) += s · x[xo..xo+n). */
    static void axpy(float s, float[] x, int xo, float[] y, int yo, int n) {
        int l = S.length();
        FloatVector sv = FloatVector.broadcast(S, s);
        int i = 0;
        for (; i + l <= n; i += l) {
            FloatVector.fromArray(S, x, xo + i).fma(sv, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += s * x[xo + i];
        }
    }
}
