package io.mm1j.llm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD kernels of the batched prefill ({@link Gemm}) on the JDK Vector API; loaded only when the incubator module is
 * present.
 *
 * <p>A panel of {@link #PANEL} weight rows is held in column-interleaved order (for each input index k, the panel's
 * PANEL weights side by side) and multiplied with a register tile of up to six inputs × four vectors: per k, four
 * panel vectors are loaded, each input's value is broadcast, and up to 24 fused multiply-adds accumulate 6 × PANEL
 * outputs in registers — no horizontal reductions, and every weight loaded serves six inputs. The CPU decode path
 * keeps its float32 matrices packed this way ({@link PackedF32Matrix}), so a decode step, a batched decode step and a
 * prefill all run these tiles; int8 matrices are packed (dequantised) panel by panel on the fly for prefill.
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
     * c[t · ldc + n] = a[t, :] · w[n, :] for t in [0, tokens), n in [n0, n1), packing w's panels on the fly.
     *
     * @param panel scratch of at least PANEL × k floats
     */
    static void matmulT(float[] a, int tokens, int k, WeightMatrix w, int n0, int n1, float[] c, int ldc,
                        float[] panel) {
        for (int n = n0; n < n1; n += PANEL) {
            int width = Math.min(PANEL, n1 - n);
            w.panel(n, width, PANEL, panel); // int8 weights are dequantised here, once per prompt block
            products(panel, k, 0, width, a, 0, tokens, c, n, ldc);
        }
    }

    /** Row-major (rows, cols) values packed panel by panel: ceil(rows / PANEL) panels of PANEL × cols floats. */
    static float[] pack(float[] values, int rows, int cols) {
        int panels = (rows + PANEL - 1) / PANEL;
        float[] out = new float[Math.multiplyExact(panels * PANEL, cols)];
        for (int r = 0; r < rows; r++) {
            int base = r / PANEL * PANEL * cols + r % PANEL;
            int src = r * cols;
            for (int kk = 0; kk < cols; kk++) {
                out[base + kk * PANEL] = values[src + kk];
            }
        }
        return out;
    }

    /**
     * out[oo + i · ldo + r] = x[xo + i · k ..] · W[r, :] for rows r in [from, to) and inputs i in [0, b), W packed
     * by {@link #pack} (k columns). Every output is its k products added in order by fused multiply-adds from zero,
     * whichever tile computes it, so a row and an input give the same bits alone, in a decode batch of any size and
     * in a prefill. Whole panels are stored straight into {@code out}; a panel cut by from or to (or short, at the end
     * of the matrix) goes through a scratch tile.
     */
    static void products(float[] p, int k, int from, int to, float[] x, int xo, int b, float[] out, int oo,
                         int ldo) {
        float[] scratch = null;
        int n = from / PANEL * PANEL;
        while (n < to) {
            int base = n * k;
            if (n >= from && n + PANEL <= to) {
                if (b == 1 && n + 2 * PANEL <= to) { // one input: two panels at a time, for eight independent sums
                    tile1x2(x, xo, p, base, k, out, oo + n);
                    n += 2 * PANEL;
                    continue;
                }
                tiles(x, xo, k, b, p, base, out, oo + n, ldo);
            } else {
                if (scratch == null) {
                    scratch = new float[TILE * PANEL];
                }
                int lo = Math.max(from, n);
                int hi = Math.min(to, n + PANEL);
                for (int i = 0; i < b; i += TILE) {
                    int g = Math.min(TILE, b - i);
                    tiles(x, xo + i * k, k, g, p, base, scratch, 0, PANEL);
                    for (int j = 0; j < g; j++) {
                        System.arraycopy(scratch, j * PANEL + lo - n, out, oo + (i + j) * ldo + lo, hi - lo);
                    }
                }
            }
            n += PANEL;
        }
    }

    /** Inputs [0, b) (k apart from xo) against the panel at base: tiles of six inputs, then four, two and one. */
    private static void tiles(float[] x, int xo, int k, int b, float[] p, int base, float[] dst, int d0, int ld) {
        int i = 0;
        for (; i + TILE <= b; i += TILE) {
            tile6(x, xo + i * k, k, p, base, dst, d0 + i * ld, ld);
        }
        if (i + 4 <= b) {
            tile4(x, xo + i * k, k, p, base, dst, d0 + i * ld, ld);
            i += 4;
        }
        if (i + 2 <= b) {
            tile2(x, xo + i * k, k, p, base, dst, d0 + i * ld, ld);
            i += 2;
        }
        if (i < b) {
            tile1(x, xo + i * k, k, p, base, dst, d0 + i * ld);
        }
    }

    /** Six inputs (a0, a0 + k, …) against the packed panel at base into dst rows d0, d0 + ld, … (PANEL each). */
    private static void tile6(float[] a, int a0, int k, float[] p, int base, float[] dst, int d0, int ld) {
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
        c00.intoArray(dst, d0);
        c01.intoArray(dst, d0 + L);
        c02.intoArray(dst, d0 + 2 * L);
        c03.intoArray(dst, d0 + 3 * L);
        c10.intoArray(dst, d0 + ld);
        c11.intoArray(dst, d0 + ld + L);
        c12.intoArray(dst, d0 + ld + 2 * L);
        c13.intoArray(dst, d0 + ld + 3 * L);
        c20.intoArray(dst, d0 + 2 * ld);
        c21.intoArray(dst, d0 + 2 * ld + L);
        c22.intoArray(dst, d0 + 2 * ld + 2 * L);
        c23.intoArray(dst, d0 + 2 * ld + 3 * L);
        c30.intoArray(dst, d0 + 3 * ld);
        c31.intoArray(dst, d0 + 3 * ld + L);
        c32.intoArray(dst, d0 + 3 * ld + 2 * L);
        c33.intoArray(dst, d0 + 3 * ld + 3 * L);
        c40.intoArray(dst, d0 + 4 * ld);
        c41.intoArray(dst, d0 + 4 * ld + L);
        c42.intoArray(dst, d0 + 4 * ld + 2 * L);
        c43.intoArray(dst, d0 + 4 * ld + 3 * L);
        c50.intoArray(dst, d0 + 5 * ld);
        c51.intoArray(dst, d0 + 5 * ld + L);
        c52.intoArray(dst, d0 + 5 * ld + 2 * L);
        c53.intoArray(dst, d0 + 5 * ld + 3 * L);
    }

    /** {@link #tile6} for four inputs. */
    private static void tile4(float[] a, int a0, int k, float[] p, int base, float[] dst, int d0, int ld) {
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
        int a1 = a0 + k;
        int a2 = a1 + k;
        int a3 = a2 + k;
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
        }
        c00.intoArray(dst, d0);
        c01.intoArray(dst, d0 + L);
        c02.intoArray(dst, d0 + 2 * L);
        c03.intoArray(dst, d0 + 3 * L);
        c10.intoArray(dst, d0 + ld);
        c11.intoArray(dst, d0 + ld + L);
        c12.intoArray(dst, d0 + ld + 2 * L);
        c13.intoArray(dst, d0 + ld + 3 * L);
        c20.intoArray(dst, d0 + 2 * ld);
        c21.intoArray(dst, d0 + 2 * ld + L);
        c22.intoArray(dst, d0 + 2 * ld + 2 * L);
        c23.intoArray(dst, d0 + 2 * ld + 3 * L);
        c30.intoArray(dst, d0 + 3 * ld);
        c31.intoArray(dst, d0 + 3 * ld + L);
        c32.intoArray(dst, d0 + 3 * ld + 2 * L);
        c33.intoArray(dst, d0 + 3 * ld + 3 * L);
    }

    /** {@link #tile6} for two inputs. */
    private static void tile2(float[] a, int a0, int k, float[] p, int base, float[] dst, int d0, int ld) {
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c01 = c00;
        FloatVector c02 = c00;
        FloatVector c03 = c00;
        FloatVector c10 = c00;
        FloatVector c11 = c00;
        FloatVector c12 = c00;
        FloatVector c13 = c00;
        int a1 = a0 + k;
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
        }
        c00.intoArray(dst, d0);
        c01.intoArray(dst, d0 + L);
        c02.intoArray(dst, d0 + 2 * L);
        c03.intoArray(dst, d0 + 3 * L);
        c10.intoArray(dst, d0 + ld);
        c11.intoArray(dst, d0 + ld + L);
        c12.intoArray(dst, d0 + ld + 2 * L);
        c13.intoArray(dst, d0 + ld + 3 * L);
    }

    /** One input against the panel at base into dst[d0 .. d0 + PANEL). */
    private static void tile1(float[] a, int a0, int k, float[] p, int base, float[] dst, int d0) {
        FloatVector c0 = FloatVector.zero(S);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        for (int kk = 0; kk < k; kk++) {
            int o = base + kk * PANEL;
            FloatVector x = FloatVector.broadcast(S, a[a0 + kk]);
            c0 = FloatVector.fromArray(S, p, o).fma(x, c0);
            c1 = FloatVector.fromArray(S, p, o + L).fma(x, c1);
            c2 = FloatVector.fromArray(S, p, o + 2 * L).fma(x, c2);
            c3 = FloatVector.fromArray(S, p, o + 3 * L).fma(x, c3);
        }
        c0.intoArray(dst, d0);
        c1.intoArray(dst, d0 + L);
        c2.intoArray(dst, d0 + 2 * L);
        c3.intoArray(dst, d0 + 3 * L);
    }

    /**
     * One input against the two consecutive panels at base into dst[d0 .. d0 + 2 · PANEL): a decode step's product,
     * with eight chains of fused multiply-adds in flight (four wait on each other's latency).
     */
    private static void tile1x2(float[] a, int a0, float[] p, int base, int k, float[] dst, int d0) {
        FloatVector c0 = FloatVector.zero(S);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        FloatVector c4 = c0;
        FloatVector c5 = c0;
        FloatVector c6 = c0;
        FloatVector c7 = c0;
        int second = base + PANEL * k;
        for (int kk = 0; kk < k; kk++) {
            int o = base + kk * PANEL;
            int o2 = second + kk * PANEL;
            FloatVector x = FloatVector.broadcast(S, a[a0 + kk]);
            c0 = FloatVector.fromArray(S, p, o).fma(x, c0);
            c1 = FloatVector.fromArray(S, p, o + L).fma(x, c1);
            c2 = FloatVector.fromArray(S, p, o + 2 * L).fma(x, c2);
            c3 = FloatVector.fromArray(S, p, o + 3 * L).fma(x, c3);
            c4 = FloatVector.fromArray(S, p, o2).fma(x, c4);
            c5 = FloatVector.fromArray(S, p, o2 + L).fma(x, c5);
            c6 = FloatVector.fromArray(S, p, o2 + 2 * L).fma(x, c6);
            c7 = FloatVector.fromArray(S, p, o2 + 3 * L).fma(x, c7);
        }
        c0.intoArray(dst, d0);
        c1.intoArray(dst, d0 + L);
        c2.intoArray(dst, d0 + 2 * L);
        c3.intoArray(dst, d0 + 3 * L);
        c4.intoArray(dst, d0 + PANEL);
        c5.intoArray(dst, d0 + PANEL + L);
        c6.intoArray(dst, d0 + PANEL + 2 * L);
        c7.intoArray(dst, d0 + PANEL + 3 * L);
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
