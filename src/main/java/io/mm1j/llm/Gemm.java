package io.mm1j.llm;

/**
 * Matrix products of the batched prefill: {@code C = A · Wᵀ} with A (T, K) holding T token rows and W (N, K) a
 * weight matrix in HF layout (the decode step's layout; no second copy of the model is kept). With the Vector API
 * and enough tokens to amortise packing, panels of W are repacked on the fly (int8 weights dequantised on the way,
 * so prefill multiplies in float32 whatever the stored format) and multiplied with register tiles
 * ({@link VectorGemm}), which turns prefill from memory-bound (each weight read once per token) into compute-bound
 * (each weight read once per prompt block); otherwise every output is one {@link Dot} product.
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
        if (Dot.VECTOR && tokens >= MIN_PACKED_TOKENS) {
            VectorGemm.matmulT(a, tokens, k, w, n0, n1, c, ldc, new float[VectorGemm.PANEL * k],
                    new float[6 * VectorGemm.PANEL]);
            return;
        }
        for (int t = 0; t < tokens; t++) {
            w.dots(n0, n1, a, t * k, c, t * ldc);
        }
    }

    /** Whether {@link #pack} gives packed weights (the Vector API is in use). */
    static boolean packs() {
        return Dot.VECTOR;
    }

    /** w packed for {@link #matmulT(float[], int, int, WeightMatrix, float[], int, int, int, float[], int)}. */
    static float[] pack(WeightMatrix w) {
        return VectorGemm.packAll(w);
    }

    /**
     * One piece of c = a · wᵀ over all n rows of w: the slice [from, to) that a thread took from {@link RowParallel},
     * aligned to whole panels (every piece aligns the same way, so the slices still partition [0, n)).
     *
     * @param packed {@link #pack}ed w, or null to pack on the fly
     */
    static void matmulT(float[] a, int tokens, int k, WeightMatrix w, float[] packed, int n, int from, int to,
                        float[] c, int ldc) {
        if (packed == null || tokens < MIN_PACKED_TOKENS) {
            matmulT(a, tokens, k, w, from, to, c, ldc);
            return;
        }
        int p = VectorGemm.PANEL;
        int start = from == 0 ? 0 : Math.min(n, (from + p - 1) / p * p);
        int end = to >= n ? n : Math.min(n, (to + p - 1) / p * p);
        if (start < end) {
            VectorGemm.matmulPacked(a, tokens, k, packed, start, end, c, ldc, new float[6 * p]);
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
