package io.mm1j.llm;

/**
 * Matrix products of the batched prefill: {@code C = A · Wᵀ} with A (T, K) holding T token rows and W (N, K) a
 * weight matrix (the decode step's; no second copy of the model is kept). Register tiles ({@link VectorGemm}) turn
 * prefill from memory-bound (each weight read once per token) into compute-bound (each weight read once per prompt
 * block): float32 matrices are kept packed for them ({@link PackedF32Matrix}); int8 matrices, with enough tokens to
 * amortise it, are packed panel by panel on the fly (dequantised on the way, so prefill multiplies in float32 whatever
 * the stored format); otherwise every output is one {@link Dot} product.
 */
final class Gemm {
    /** Below this many tokens packing a panel costs more than it saves. */
    static final int MIN_PACKED_TOKENS = 6;

    private Gemm() {}

    /**
     * c[t · ldc + n] = a[t, :] · w[n, :] for t in [0, tokens) and n in [n0, n1).
     *
     * @param a (tokens, k) row-major
     * @param w (rows, k)
     * @param c output, row stride ldc
     */
    static void matmulT(float[] a, int tokens, int k, WeightMatrix w, int n0, int n1, float[] c, int ldc) {
        if (w instanceof PackedF32Matrix p) { // the tiles of a decode step: each output's bits as there
            if (k != p.cols()) {
                throw new IllegalArgumentException("inputs of " + k + " for a matrix of " + p.cols() + " columns");
            }
            p.products(n0, n1, a, 0, tokens, c, 0, ldc);
            return;
        }
        if (Dot.VECTOR && tokens >= MIN_PACKED_TOKENS) {
            VectorGemm.matmulT(a, tokens, k, w, n0, n1, c, ldc, new float[VectorGemm.PANEL * k]);
            return;
        }
        for (int t = 0; t < tokens; t++) {
            w.dots(n0, n1, a, t * k, c, t * ldc);
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
