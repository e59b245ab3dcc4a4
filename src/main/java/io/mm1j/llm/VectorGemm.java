package io.mm1j.llm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD kernels of the batched prefill ({@link Gemm}) on the JDK Vector API; loaded only when the incubator module is
 * present.
 *
 * <p>The matrix product packs a panel of {@link #PANEL} weight rows into column-interleaved order (for each input
 * index k, the panel's PANEL weights side by side) and multiplies it with a register tile of six tokens × four
 * vectors: per k, four panel vectors are loaded, each token's input value is broadcast, and 24 fused multiply-adds
 * accumulate 6 × PANEL outputs in registers — no horizontal reductions, and every weight loaded serves six tokens.
 * The panel (PANEL × K floats) is packed per call and stays in L2 while all tokens pass over it, so no transposed
 * copy of the model is kept.
 */
final class VectorGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Weight rows per panel: four vectors wide. */
    static final int PANEL = 4 * L;
    /** Tokens per register tile. */
    private static final int TILE = 6;

    private VectorGemm() {}

    /**
     * c[t · ldc + n] = a[t, :] · w[n, :] for t in [0, tokens), n in [n0, n1).
     *
     * @param panel scratch of at least PANEL × k floats
     * @param tile  scratch of at least TILE × PANEL floats
     */
    static void matmulT(float[] a, int tokens, int k, WeightMatrix w, int n0, int n1, float[] c, int ldc,
                        float[] panel, float[] tile) {
        for (int n = n0; n < n1; n += PANEL) {
            int width = Math.min(PANEL, n1 - n);
            w.panel(n, width, PANEL, panel); // int8 weights are dequantised here, once per prompt block
            int t = 0;
            for (; t + TILE <= tokens; t += TILE) {
                tile6(a, t, k, panel, 0, tile);
                for (int i = 0; i < TILE; i++) {
                    System.arraycopy(tile, i * PANEL, c, (t + i) * ldc + n, width);
                }
            }
            for (; t < tokens; t++) {
                tile1(a, t, k, panel, 0, tile);
                System.arraycopy(tile, 0, c, t * ldc + n, width);
            }
        }
    }

    /** All of w (n, k) packed panel by panel: ceil(n / PANEL) panels of PANEL × k floats. */
    static float[] packAll(WeightMatrix w) {
        int n = w.rows();
        int k = w.cols();
        int panels = (n + PANEL - 1) / PANEL;
        float[] out = new float[panels * PANEL * k];
        float[] one = new float[PANEL * k];
        for (int p = 0; p < panels; p++) {
            w.panel(p * PANEL, Math.min(PANEL, n - p * PANEL), PANEL, one);
            System.arraycopy(one, 0, out, p * PANEL * k, one.length);
        }
        return out;
    }

    /**
     * {@link #matmulT} on weights packed by {@link #packAll}; n0 must be a multiple of PANEL.
     *
     * @param tile scratch of at least TILE × PANEL floats
     */
    static void matmulPacked(float[] a, int tokens, int k, float[] packed, int n0, int n1, float[] c, int ldc,
                             float[] tile) {
        for (int n = n0; n < n1; n += PANEL) {
            int width = Math.min(PANEL, n1 - n);
            int base = (n / PANEL) * PANEL * k;
            int t = 0;
            for (; t + TILE <= tokens; t += TILE) {
                tile6(a, t, k, packed, base, tile);
                for (int i = 0; i < TILE; i++) {
                    System.arraycopy(tile, i * PANEL, c, (t + i) * ldc + n, width);
                }
            }
            for (; t < tokens; t++) {
                tile1(a, t, k, packed, base, tile);
                System.arraycopy(tile, 0, c, t * ldc + n, width);
            }
        }
    }

    /** Six tokens from t0 against the packed panel into tile (6, PANEL). */
    private static void tile6(float[] a, int t0, int k, float[] p, int base, float[] tile) {
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
        FloatVector c40 = c00;
        FloatVector c41 = c00;
        FloatVector c42 = c00;
        FloatVector c43 = c00;
        FloatVector c50 = c00;
        FloatVector c51 = c00;
        FloatVector c52 = c00;
        FloatVector c53 = c00;
        int a0 = t0 * k;
        int a1 = a0 + k;
        int a2 = a1 + k;
        int a3 = a2 + k;
        int a4 = a3 + k;
        int a5 = a4 + k;
        for (int kk = 0; kk < k; kk++) {
            int o = base + kk * PANEL;
            FloatVector w0 = FloatVector.fromArray(S, p, o);
            FloatVector w1 = FloatVector.fromArray(S, p, o + L);
            FloatVector w2 = FloatVector.fromArray(S, p, o + 2 * L);
            FloatVector w3 = FloatVector.fromArray(S, p, o + 3 * L);
            FloatVector x = FloatVector.broadcast(S, a[a0 + kk]);
            c00 = w0.fma(x, c00);
            c01 = w1.fma(x, c01);
            c02 = w2.fma(x, c02);
            c03 = w3.fma(x, c03);
            x = FloatVector.broadcast(S, a[a1 + kk]);
            c10 = w0.fma(x, c10);
            c11 = w1.fma(x, c11);
            c12 = w2.fma(x, c12);
            c13 = w3.fma(x, c13);
            x = FloatVector.broadcast(S, a[a2 + kk]);
            c20 = w0.fma(x, c20);
            c21 = w1.fma(x, c21);
            c22 = w2.fma(x, c22);
            c23 = w3.fma(x, c23);
            x = FloatVector.broadcast(S, a[a3 + kk]);
            c30 = w0.fma(x, c30);
            c31 = w1.fma(x, c31);
            c32 = w2.fma(x, c32);
            c33 = w3.fma(x, c33);
            x = FloatVector.broadcast(S, a[a4 + kk]);
            c40 = w0.fma(x, c40);
            c41 = w1.fma(x, c41);
            c42 = w2.fma(x, c42);
            c43 = w3.fma(x, c43);
            x = FloatVector.broadcast(S, a[a5 + kk]);
            c50 = w0.fma(x, c50);
            c51 = w1.fma(x, c51);
            c52 = w2.fma(x, c52);
            c53 = w3.fma(x, c53);
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, 0 + L);
        c02.intoArray(tile, 0 + 2 * L);
        c03.intoArray(tile, 0 + 3 * L);
        c10.intoArray(tile, PANEL);
        c11.intoArray(tile, PANEL + L);
        c12.intoArray(tile, PANEL + 2 * L);
        c13.intoArray(tile, PANEL + 3 * L);
        c20.intoArray(tile, 2 * PANEL);
        c21.intoArray(tile, 2 * PANEL + L);
        c22.intoArray(tile, 2 * PANEL + 2 * L);
        c23.intoArray(tile, 2 * PANEL + 3 * L);
        c30.intoArray(tile, 3 * PANEL);
        c31.intoArray(tile, 3 * PANEL + L);
        c32.intoArray(tile, 3 * PANEL + 2 * L);
        c33.intoArray(tile, 3 * PANEL + 3 * L);
        c40.intoArray(tile, 4 * PANEL);
        c41.intoArray(tile, 4 * PANEL + L);
        c42.intoArray(tile, 4 * PANEL + 2 * L);
        c43.intoArray(tile, 4 * PANEL + 3 * L);
        c50.intoArray(tile, 5 * PANEL);
        c51.intoArray(tile, 5 * PANEL + L);
        c52.intoArray(tile, 5 * PANEL + 2 * L);
        c53.intoArray(tile, 5 * PANEL + 3 * L);
    }

    /** One token against the packed panel into tile (1, PANEL). */
    private static void tile1(float[] a, int t, int k, float[] p, int base, float[] tile) {
        FloatVector c0 = FloatVector.zero(S);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        int a0 = t * k;
        for (int kk = 0; kk < k; kk++) {
            int o = base + kk * PANEL;
            FloatVector x = FloatVector.broadcast(S, a[a0 + kk]);
            c0 = FloatVector.fromArray(S, p, o).fma(x, c0);
            c1 = FloatVector.fromArray(S, p, o + L).fma(x, c1);
            c2 = FloatVector.fromArray(S, p, o + 2 * L).fma(x, c2);
            c3 = FloatVector.fromArray(S, p, o + 3 * L).fma(x, c3);
        }
        c0.intoArray(tile, 0);
        c1.intoArray(tile, 0 + L);
        c2.intoArray(tile, 0 + 2 * L);
        c3.intoArray(tile, 0 + 3 * L);
    }

    /** y[yo..yo+n) += s · x[xo..xo+n). */
    static void axpy(float s, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector sv = FloatVector.broadcast(S, s);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(S, x, xo + i).fma(sv, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += s * x[xo + i];
        }
    }
}
