package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The packed float32 matrix of the CPU decode path: every output, whatever the tile, the range or the number of
 * inputs, is exactly its products added in input order by fused multiply-adds (a scalar loop written here), so a
 * sequence gets the same bits alone, in a batch and in a prefill.
 */
class PackedF32MatrixTest {
    /** The reference: row r of w (row-major) times x, products added in order with Math.fma from 0. */
    private static float inOrder(float[] w, int r, int cols, float[] x, int xo) {
        float s = 0f;
        for (int k = 0; k < cols; k++) {
            s = Math.fma(w[r * cols + k], x[xo + k], s);
        }
        return s;
    }

    private static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    @Test
    void everyOutputIsItsProductsInOrderForAnyRangeAndBatch() {
        assertTrue(Dot.VECTOR, "the tests run with --add-modules jdk.incubator.vector");
        Random rnd = new Random(11);
        // rows: under one panel, a panel and a tail, several panels with a tail; cols odd and wide
        for (int[] shape : new int[][] {{5, 7}, {150, 37}, {300, 256}}) {
            int rows = shape[0];
            int cols = shape[1];
            float[] w = gaussian(rnd, rows * cols);
            PackedF32Matrix m = PackedF32Matrix.pack(w, rows, cols);
            int p = m.panelRows();
            int[][] ranges = {{0, rows}, {Math.min(3, rows - 1), rows - 1}, {Math.min(p, rows - 1), rows},
                    {0, Math.min(rows, 2 * p)}, {rows / 3, rows / 3 + 1}};
            for (int b : new int[] {1, 2, 3, 4, 5, 6, 7, 11, 16}) {
                float[] x = gaussian(rnd, 2 + b * cols);
                for (int[] range : ranges) {
                    float[] out = new float[3 + b * rows];
                    java.util.Arrays.fill(out, Float.NaN);
                    m.dots(range[0], range[1], x, 2, b, out, 3);
                    for (int i = 0; i < b; i++) {
                        for (int r = 0; r < rows; r++) {
                            float got = out[3 + i * rows + r];
                            String at = rows + "x" + cols + " b " + b + " range " + range[0] + ".." + range[1]
                                    + " input " + i + " row " + r;
                            if (r < range[0] || r >= range[1]) {
                                assertTrue(Float.isNaN(got), "written outside the range: " + at);
                            } else {
                                assertEquals(Float.floatToIntBits(inOrder(w, r, cols, x, 2 + i * cols)),
                                        Float.floatToIntBits(got), at);
                                assertEquals(Float.floatToIntBits(m.dot(r, x, 2 + i * cols)),
                                        Float.floatToIntBits(got), "dot() " + at);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void productsWriteRowsOfAWiderOutput() {
        Random rnd = new Random(3);
        int rows = 130;
        int cols = 20;
        float[] w = gaussian(rnd, rows * cols);
        PackedF32Matrix m = PackedF32Matrix.pack(w, rows, cols);
        int b = 9;
        int ldo = rows + 17;
        float[] x = gaussian(rnd, b * cols);
        float[] out = new float[b * ldo];
        m.products(0, rows, x, 0, b, out, 0, ldo);
        for (int i = 0; i < b; i++) {
            for (int r = 0; r < rows; r++) {
                assertEquals(inOrder(w, r, cols, x, i * cols), out[i * ldo + r], 0f, "input " + i + " row " + r);
            }
            for (int r = rows; r < ldo && i * ldo + r < out.length; r++) {
                assertEquals(0f, out[i * ldo + r], "padding of input " + i + " written at " + r);
            }
        }
    }

    @Test
    void rowsAndPanelsComeBackAsGiven() {
        Random rnd = new Random(8);
        int rows = 70;
        int cols = 9;
        float[] w = gaussian(rnd, rows * cols);
        PackedF32Matrix m = PackedF32Matrix.pack(w, rows, cols);
        F32Matrix plain = new F32Matrix(w, rows, cols);
        for (int r = 0; r < rows; r++) {
            float[] row = new float[cols + 1];
            m.row(r, row, 1);
            assertArrayEquals(java.util.Arrays.copyOfRange(w, r * cols, (r + 1) * cols),
                    java.util.Arrays.copyOfRange(row, 1, cols + 1), "row " + r);
        }
        for (int[] pw : new int[][] {{0, 8}, {64, 6}, {13, 5}}) {
            float[] a = new float[cols * 8];
            float[] b = new float[cols * 8];
            java.util.Arrays.fill(a, 5f);
            java.util.Arrays.fill(b, 5f);
            plain.panel(pw[0], pw[1], 8, a);
            m.panel(pw[0], pw[1], 8, b);
            assertArrayEquals(a, b, "panel at " + pw[0] + " width " + pw[1]);
        }
        assertEquals(4L * cols * 2 * m.panelRows(), m.bytes(), "two panels, the second padded");
    }

    @Test
    void badShapesAndRangesAreRefused() {
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> PackedF32Matrix.pack(new float[10], 3, 4));
        assertEquals("F32 matrix: 10 values do not make (3, 4)", e.getMessage());
        PackedF32Matrix m = PackedF32Matrix.pack(new float[12], 3, 4);
        assertThrows(IndexOutOfBoundsException.class, () -> m.dots(0, 4, new float[4], 0, 1, new float[4], 0));
        assertThrows(IndexOutOfBoundsException.class, () -> m.dots(0, 3, new float[7], 0, 2, new float[6], 0));
        assertThrows(IndexOutOfBoundsException.class, () -> m.row(3, new float[4], 0));
    }
}
