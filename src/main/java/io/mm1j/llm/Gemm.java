package io.mm1j.llm;

/**
 * Matrix products of the batched prefill: {@code C = A · Wᵀ} with A (T, K) holding T token rows and W (N, K) a
 * weight matrix in HF layout, so that each output is a dot product of two contiguous rows (the decode step's
 * {@link Dot} layout, no transposed weight copy). Rows of W are blocked by four and tokens by four into a register
 * tile ({@link VectorGemm}), and tokens by {@link #TOKEN_BLOCK} so that the block of A being reused stays in L2
 * while each tile of W stays in L1: every weight is read from memory once per block instead of once per token,
 * which is what turns prefill from memory-bound to compute-bound. Without the Vector API the same blocking runs on
 * the scalar {@link Dot}.
 */
final class Gemm {
    /** Tokens per block: 64 rows of K ≤ 4096 floats is ≤ 1 MiB, within a core's L2. */
    static final int TOKEN_BLOCK = 64;

    private Gemm() {}

    /**
     * c[t · ldc + n] = a[t, :] · w[n, :] for t in [0, tokens) and n in [n0, n1).
     *
     * @param a (tokens, k) row-major
     * @param w (rows, k) row-major
     * @param c output, row stride ldc
     */
    static void matmulT(float[] a, int tokens, int k, float[] w, int n0, int n1, float[] c, int ldc) {
        for (int tb = 0; tb < tokens; tb += TOKEN_BLOCK) {
            int te = Math.min(tokens, tb + TOKEN_BLOCK);
            int n = n0;
            for (; Dot.VECTOR && n + 4 <= n1; n += 4) {
                int t = tb;
                for (; t + 4 <= te; t += 4) {
                    VectorGemm.tile4x4(a, t, w, n, k, c, ldc);
                }
                for (; t < te; t++) {
                    for (int j = n; j < n + 4; j++) {
                        c[t * ldc + j] = Dot.dot(a, t * k, w, j * k, k);
                    }
                }
            }
            for (; n < n1; n++) {
                for (int t = tb; t < te; t++) {
                    c[t * ldc + n] = Dot.dot(a, t * k, w, n * k, k);
                }
            }
        }
    }

    /** y[yo..yo+n) += s · x[xo..xo+n). */
    static void axpy(float s, float[] x, int xo, float[] y, int yo, int n) {
        if (Dot.VECTOR) {
            VectorGemm.axpy(s, x, xo, y, yo, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            y[yo + i] += s * x[xo + i];
        }
    }
}
