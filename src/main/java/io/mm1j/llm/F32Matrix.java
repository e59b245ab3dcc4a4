package io.mm1j.llm;

import io.mm1j.Mm1Exception;

/**
 * A float32 {@link WeightMatrix}: the values as they were trained.
 *
 * @param values (rows, cols) row-major; not copied
 */
public record F32Matrix(float[] values, int rows, int cols) implements WeightMatrix {
    public F32Matrix {
        if (values.length != (long) rows * cols) {
            throw new Mm1Exception("F32 matrix: " + values.length + " values do not make (" + rows + ", " + cols
                    + ")");
        }
    }

    @Override
    public float dot(int row, float[] x, int xo) {
        return Dot.dot(values, row * cols, x, xo, cols);
    }

    @Override
    public void row(int row, float[] out, int off) {
        System.arraycopy(values, row * cols, out, off, cols);
    }

    @Override
    public void panel(int n, int width, int stride, float[] out) {
        // k outer: the writes are sequential and the source rows' current cache lines stay in L1
        for (int kk = 0; kk < cols; kk++) {
            int o = kk * stride;
            int src = n * cols + kk;
            for (int j = 0; j < width; j++) {
                out[o + j] = values[src + j * cols];
            }
            for (int j = width; j < stride; j++) {
                out[o + j] = 0f;
            }
        }
    }

    @Override
    public long bytes() {
        return 4L * values.length;
    }
}
