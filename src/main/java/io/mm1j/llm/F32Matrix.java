package io.mm1j.llm;

import io.mm1j.Mm1Exception;

/** A float32 {@link WeightMatrix}: the values as they were trained. */
public final class F32Matrix implements WeightMatrix {
    private final float[] w; // (rows, cols)
    private final int rows;
    private final int cols;

    public F32Matrix(float[] w, int rows, int cols) {
        if (w.length != (long) rows * cols) {
            throw new Mm1Exception("F32 matrix: " + w.length + " values do not make (" + rows + ", " + cols + ")");
        }
        this.w = w;
        this.rows = rows;
        this.cols = cols;
    }

    /** The values, (rows, cols) row-major; not a copy. */
    public float[] values() {
        return w;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public float dot(int row, float[] x, int xo) {
        return Dot.dot(w, row * cols, x, xo, cols);
    }

    @Override
    public void row(int row, float[] out, int off) {
        System.arraycopy(w, row * cols, out, off, cols);
    }

    @Override
    public void panel(int n, int width, int stride, float[] out) {
        // k outer: the writes are sequential and the source rows' current cache lines stay in L1
        for (int kk = 0; kk < cols; kk++) {
            int o = kk * stride;
            int src = n * cols + kk;
            for (int j = 0; j < width; j++) {
                out[o + j] = w[src + j * cols];
            }
            for (int j = width; j < stride; j++) {
                out[o + j] = 0f;
            }
        }
    }

    @Override
    public long bytes() {
        return 4L * w.length;
    }
}
