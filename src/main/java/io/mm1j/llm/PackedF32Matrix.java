package io.mm1j.llm;

import io.mm1j.Mm1Exception;

/**
 * A float32 {@link WeightMatrix} held in panels for the register tiles of {@link VectorGemm}: rows in groups of
 * {@link #panelRows()} (64 with AVX-512), each group stored column by column (for each input index k, the group's
 * weights side by side). The CPU decode path keeps its float32 matrices this way when the Vector API is in use.
 *
 * <p>Why: every output is then its products added in input order by fused multiply-adds, with the outputs in SIMD
 * lanes and no horizontal sums, so one kernel family serves a decode step (one input), a batched decode step (each
 * weight loaded once for up to six inputs: 4× the row-major dot products' speed at 16 inputs on 2 cores, measured on
 * the {@code mini} shapes) and a prefill, and all three give an output the same bits: a request's logits do not depend
 * on the batch it decodes in, nor on how its prompt was split. The packed copy replaces the row-major one (rows are
 * gathered back for embedding lookups), so it costs no memory but the padding of the last panel.
 */
public final class PackedF32Matrix implements WeightMatrix {
    private final float[] packed; // (ceil(rows / P), cols, P) with P = panelRows()
    private final int rows;
    private final int cols;

    private PackedF32Matrix(float[] packed, int rows, int cols) {
        this.packed = packed;
        this.rows = rows;
        this.cols = cols;
    }

    /** Packs row-major (rows, cols) values; needs the Vector API ({@link Dot#VECTOR}). */
    public static PackedF32Matrix pack(float[] values, int rows, int cols) {
        if (!Dot.VECTOR) {
            throw new IllegalStateException("packed matrices need the Vector API (--add-modules jdk.incubator.vector)");
        }
        if (rows < 1 || cols < 1 || values.length != (long) rows * cols) {
            throw new Mm1Exception("F32 matrix: " + values.length + " values do not make (" + rows + ", " + cols
                    + ")");
        }
        return new PackedF32Matrix(VectorGemm.pack(values, rows, cols), rows, cols);
    }

    /** Rows per panel: RowParallel pieces that are multiples of it never split a panel. */
    public int panelRows() {
        return VectorGemm.PANEL;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    private int at(int row, int col) {
        int p = VectorGemm.PANEL;
        return row / p * p * cols + col * p + row % p;
    }

    @Override
    public float dot(int row, float[] x, int xo) {
        java.util.Objects.checkIndex(row, rows);
        java.util.Objects.checkFromIndexSize(xo, cols, x.length);
        int p = VectorGemm.PANEL;
        int o = at(row, 0);
        float s = 0f;
        for (int kk = 0; kk < cols; kk++) {
            s = Math.fma(packed[o + kk * p], x[xo + kk], s); // a SIMD lane's fused multiply-adds, in order
        }
        return s;
    }

    @Override
    public void dots(int from, int to, float[] x, int xo, float[] out, int oo) {
        dots(from, to, x, xo, 1, out, oo);
    }

    @Override
    public void dots(int from, int to, float[] x, int xo, int b, float[] out, int oo) {
        WeightMatrix.checkDots(this, from, to, x, xo, b, out, oo);
        if (b > 0 && from < to) {
            VectorGemm.products(packed, cols, from, to, x, xo, b, out, oo, rows);
        }
    }

    /**
     * out[oo + i · ldo + r] = W[r, :] · x[xo + i · cols ..] for rows r in [from, to) and inputs i in [0, b): {@link
     * #dots} with the outputs' row stride given (a prefill writes into rows wider than this matrix's slice).
     */
    void products(int from, int to, float[] x, int xo, int b, float[] out, int oo, int ldo) {
        java.util.Objects.checkFromToIndex(from, to, rows);
        if (b > 0 && from < to) {
            if (ldo < to) {
                throw new IllegalArgumentException("output row stride " + ldo + " below " + to);
            }
            java.util.Objects.checkFromIndexSize(xo, Math.multiplyExact(b, cols), x.length);
            java.util.Objects.checkFromToIndex(oo + from, oo + (long) (b - 1) * ldo + to > Integer.MAX_VALUE ? -1
                    : oo + (b - 1) * ldo + to, out.length);
            VectorGemm.products(packed, cols, from, to, x, xo, b, out, oo, ldo);
        }
    }

    @Override
    public void row(int row, float[] out, int off) {
        java.util.Objects.checkIndex(row, rows);
        java.util.Objects.checkFromIndexSize(off, cols, out.length);
        int p = VectorGemm.PANEL;
        int o = at(row, 0);
        for (int kk = 0; kk < cols; kk++) {
            out[off + kk] = packed[o + kk * p];
        }
    }

    @Override
    public void panel(int n, int width, int stride, float[] out) {
        for (int kk = 0; kk < cols; kk++) {
            int o = kk * stride;
            for (int j = 0; j < width; j++) {
                out[o + j] = packed[at(n + j, kk)];
            }
            for (int j = width; j < stride; j++) {
                out[o + j] = 0f;
            }
        }
    }

    @Override
    public long bytes() {
        return 4L * packed.length;
    }
}
