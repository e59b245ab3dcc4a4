package io.mm1j.llm;

/**
 * A weight matrix of the CPU decode path, (rows, cols) = (out_features, in_features) as in HF. {@link F32Matrix}
 * holds float32 values row-major, so every output of a matrix-vector product is one contiguous dot product;
 * {@link PackedF32Matrix} holds them in panels for register-tiled products (the CPU decode path's form with the
 * Vector API); {@link Int8Matrix} holds int8 values with a float32 scale per group of columns and dequantises them
 * in registers inside the dot product, so a decode step streams a quarter of the bytes.
 */
public sealed interface WeightMatrix permits F32Matrix, PackedF32Matrix, Int8Matrix {
    /** Output features. */
    int rows();

    /** Input features. */
    int cols();

    /** W[row, :] · x[xo .. xo + cols). */
    float dot(int row, float[] x, int xo);

    /**
     * out[oo + r] = W[r, :] · x[xo .. xo + cols) for rows r in [from, to): {@link #dot} for a range of rows, each
     * result bit-identical to {@link #dot}'s (an implementation may share input loads between rows).
     *
     * @throws IndexOutOfBoundsException when a range falls outside the matrix, x or out
     */
    default void dots(int from, int to, float[] x, int xo, float[] out, int oo) {
        checkDots(this, from, to, x, xo, out, oo);
        for (int r = from; r < to; r++) {
            out[oo + r] = dot(r, x, xo);
        }
    }

    /** Rows of a weight tile in {@link #dots(int, int, float[], int, int, float[], int)}. */
    int TILE_ROWS = 32;

    /**
     * {@link #dots} for b inputs at once: out[oo + i · rows + r] = W[r, :] · x[xo + i · cols ..] for rows r in
     * [from, to) and inputs i in [0, b), tile by tile ({@link #TILE_ROWS} rows), so a tile of weights meets every
     * input while it is in the core's caches (continuous batching reads each weight once for all sequences).
     * Every result is bit-identical to {@link #dot}'s.
     */
    default void dots(int from, int to, float[] x, int xo, int b, float[] out, int oo) {
        checkDots(this, from, to, x, xo, b, out, oo);
        for (int t = from; t < to; t += TILE_ROWS) {
            int end = Math.min(to, t + TILE_ROWS);
            for (int i = 0; i < b; i++) {
                dots(t, end, x, xo + i * cols(), out, oo + i * rows());
            }
        }
    }

    /**
     * b inputs x[xo + i · cols ..] prepared once for products with this matrix and any other of its kind and width,
     * from several threads ({@link Int8Matrix} quantises them to int8), reusing {@code reuse}'s arrays when it can;
     * null when the matrix multiplies its inputs as they are (then the products need nothing prepared).
     */
    default Int8Matrix.Inputs prepare(float[] x, int xo, int b, Int8Matrix.Inputs reuse) {
        return null;
    }

    /**
     * {@link #dots(int, int, float[], int, int, float[], int)} with the inputs' {@link #prepare}d form (null: prepared
     * as needed), the same results; {@code prepared} must have been made from these inputs.
     */
    default void dots(int from, int to, float[] x, int xo, int b, Int8Matrix.Inputs prepared, float[] out, int oo) {
        dots(from, to, x, xo, b, out, oo);
    }

    /** The index checks of {@link #dots}: once per call, so the kernels index inside checked ranges. */
    static void checkDots(WeightMatrix w, int from, int to, float[] x, int xo, float[] out, int oo) {
        checkDots(w, from, to, x, xo, 1, out, oo);
    }

    /** The index checks for b inputs (b rows of x, b rows of out). */
    static void checkDots(WeightMatrix w, int from, int to, float[] x, int xo, int b, float[] out, int oo) {
        java.util.Objects.checkFromToIndex(from, to, w.rows());
        if (b < 0) {
            throw new IllegalArgumentException("inputs: " + b);
        }
        if (b > 0) {
            java.util.Objects.checkFromIndexSize(xo, (long) b * w.cols() > Integer.MAX_VALUE ? -1 : b * w.cols(),
                    x.length);
            java.util.Objects.checkFromToIndex(oo + (b - 1) * w.rows() + from, oo + (b - 1) * w.rows() + to,
                    out.length);
            java.util.Objects.checkFromToIndex(oo + from, oo + to, out.length);
        }
    }

    /** Writes the (dequantised) row {@code row} into out[off .. off + cols): an embedding lookup. */
    void row(int row, float[] out, int off);

    /**
     * Rows [n, n + width) transposed into column-interleaved order for the batched prefill's register tiles:
     * {@code out[kk · stride + j] = W[n + j, kk]} for j &lt; width, and 0 for the padding columns width ≤ j &lt; stride.
     */
    void panel(int n, int width, int stride, float[] out);

    /** Heap bytes of the weights (values and scales). */
    long bytes();
}
