package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Symmetric per-group int8 quantisation and the int8 × float32 dot products of the CPU decode path. */
class Int8MatrixTest {
    private static float[] gaussian(Random r, int n, float std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian() * std;
        }
        return v;
    }

    @Test
    void handWorkedGroupQuantisesToAbsmaxOver127() {
        // group 1: absmax 1.27 → scale 0.01; group 2: all zero → scale 0, values 0
        float[] w = {0.5f, -1.27f, 0.01f, 1.0f, 0f, 0f};
        Int8Matrix m = Int8Matrix.quantize(w, 1, 6, 4);
        assertArrayEquals(new byte[] {50, -127, 1, 100, 0, 0}, m.values());
        assertEquals(0.01f, m.scales()[0], 1e-9f);
        assertEquals(0f, m.scales()[1]);
        assertArrayEquals(new float[] {0.5f, -1.27f, 0.01f, 1.0f, 0f, 0f}, m.dequantize(), 1e-6f);
    }

    @Test
    void roundTripErrorIsAtMostHalfAScaleAndTheAbsmaxMapsTo127() {
        Random r = new Random(3);
        for (int[] shape : new int[][] {{5, 70, 32}, {3, 64, 16}, {4, 172, 32}, {2, 50, 7}, {3, 1376, 32}}) {
            int rows = shape[0];
            int cols = shape[1];
            int group = shape[2];
            float[] w = gaussian(r, rows * cols, 0.05f);
            w[cols + 3] = 4f; // an outlier only costs precision in its own group
            Int8Matrix m = Int8Matrix.quantize(w, rows, cols, group);
            float[] back = m.dequantize();
            int groups = Int8Matrix.groups(cols, group);
            assertEquals(rows * groups, m.scales().length);
            for (int row = 0; row < rows; row++) {
                for (int g = 0; g < groups; g++) {
                    float s = m.scales()[row * groups + g];
                    int most = 0;
                    for (int k = g * group; k < Math.min(cols, (g + 1) * group); k++) {
                        int i = row * cols + k;
                        assertTrue(Math.abs(w[i] - back[i]) <= s / 2 * 1.0001f, "|Δ| at (" + row + ", " + k + ") = "
                                + Math.abs(w[i] - back[i]) + " > scale/2 = " + s / 2);
                        most = Math.max(most, Math.abs(m.values()[i]));
                    }
                    assertEquals(127, most, "absmax of group " + g + " of row " + row);
                }
            }
            if (cols > 32 && group == 32) {
                assertTrue(m.scales()[groups] > 0.03f && m.scales()[groups + 1] < 0.002f,
                        "the outlier's group has the large scale, the next group does not");
            }
        }
    }

    /**
     * Narrow rows multiply the int8 weights by the float input: the dequantised float32 product. Rows in whole
     * 512-column blocks multiply them by the input quantised to int8 per group of 32 (llama.cpp's Q8_0 × Q8_0):
     * exactly the dequantised weights times the quantised input, and off the float product by at most
     * Σ |w| · s_x / 2 (each input value is off by at most half its group's scale).
     */
    @Test
    void int8MatvecEqualsTheDequantisedMatvecOfTheQuantisedInput() {
        Random r = new Random(11);
        // {rows, cols, group, columns in whole blocks}: 1376 (FFN) padded to 3 blocks; 1100 two blocks and a float tail
        for (int[] shape : new int[][] {{40, 64, 32, 0}, {24, 172, 32, 0}, {16, 512, 32, 512}, {5, 1376, 32, 1376},
                {6, 1100, 32, 1024}, {9, 70, 16, 0}, {7, 50, 7, 0}}) {
            int rows = shape[0];
            int cols = shape[1];
            Int8Matrix q = Int8Matrix.quantize(gaussian(r, rows * cols, 0.1f), rows, cols, shape[2]);
            F32Matrix f = new F32Matrix(q.dequantize(), rows, cols);
            assertEquals(shape[3], q.blockedColumns(), "blocked columns of " + rows + "x" + cols);
            float[] x = gaussian(r, cols + 5, 1f);
            double[] xq = quantisedInput(x, 3, cols, q.blockedColumns());
            for (int row = 0; row < rows; row++) {
                double exact = 0;
                double w8a8 = 0;
                double bound = 0;
                for (int k = 0; k < cols; k++) {
                    double w = f.values()[row * cols + k];
                    exact += w * x[3 + k];
                    w8a8 += w * xq[k];
                    bound += Math.abs(w * (xq[k] - x[3 + k]));
                }
                double tol = 2e-6 * Math.sqrt(cols) * 4;
                assertEquals(w8a8, q.dot(row, x, 3), tol, "int8 row " + row + " of " + rows + "x" + cols);
                assertEquals(exact, q.dot(row, x, 3), bound + tol, "int8 vs float input, row " + row);
                assertEquals(exact, f.dot(row, x, 3), tol, "f32 row " + row);
                if (q.blockedColumns() == 0) {
                    assertEquals(exact, w8a8, 0.0, "narrow rows: the float input as it is");
                } else {
                    assertTrue(bound > 0 && bound < 0.02 * Math.sqrt(cols), "the input's rounding: " + bound);
                }
            }
        }
    }

    /**
     * x[xo ..] with its first {@code blocked} columns quantised to int8 per group of 32 and back (scale max|x| / 127
     * in float, values rint(x · (1 / scale)) as the weights are quantised), the rest as they are.
     */
    static double[] quantisedInput(float[] x, int xo, int cols, int blocked) {
        double[] out = new double[cols];
        for (int k = 0; k < cols; k++) {
            out[k] = x[xo + k];
        }
        for (int g = 0; g * 32 < blocked; g++) {
            int end = Math.min(cols, g * 32 + 32);
            float amax = 0;
            for (int k = g * 32; k < end; k++) {
                amax = Math.max(amax, Math.abs(x[xo + k]));
            }
            float scale = amax / 127f;
            float inv = scale == 0 ? 0 : 1f / scale;
            for (int k = g * 32; k < end; k++) {
                float y = Float.isInfinite(inv) ? x[xo + k] / scale : x[xo + k] * inv;
                out[k] = (double) (float) Math.rint(y) * scale;
            }
        }
        return out;
    }

    /**
     * The block kernel's integer sums at their limits: weights of -128 and 127 times inputs quantised to ±127, so
     * every pair of products sums to about ±32,512, with either sign in the even and the odd groups of a lane (a
     * borrow between the halves of a lane, mishandled, would be off by 2^16 products). Each row must equal the exact
     * product of the dequantised weights and the quantised input.
     */
    @Test
    void extremeProductsSumExactlyInTheBlockKernel() {
        Random r = new Random(11);
        int rows = 6;
        int cols = 1024; // two blocks
        byte[] q = new byte[rows * cols];
        for (int k = 0; k < cols; k++) {
            q[k] = -128; // row 0: every product at its largest magnitude
            q[cols + k] = 127;
            q[2 * cols + k] = (k / 32) % 2 == 0 ? (byte) -128 : (byte) 127; // even and odd groups of opposite sign
            for (int row = 3; row < rows; row++) {
                q[row * cols + k] = r.nextBoolean() ? (byte) -128 : (byte) 127;
            }
        }
        float[] scales = new float[rows * cols / 32];
        java.util.Arrays.fill(scales, 1f / 64);
        Int8Matrix m = new Int8Matrix(q.clone(), scales, rows, cols, 32); // takes the array over, rearranged
        assertEquals(cols, m.blockedColumns());
        float[][] inputs = new float[4][cols];
        for (int k = 0; k < cols; k++) {
            inputs[0][k] = 1f;
            inputs[1][k] = -1f;
            inputs[2][k] = k % 2 == 0 ? 1f : -1f;
            inputs[3][k] = r.nextBoolean() ? 1f : -1f;
        }
        for (float[] x : inputs) {
            double[] xq = quantisedInput(x, 0, cols, cols);
            float[] out = new float[rows];
            m.dots(0, rows, x, 0, out, 0);
            // two inputs: the second takes the rows two per pass (VectorInt8Dot.blocked2, its own copy of the sums)
            float[] twice = new float[2 * cols];
            System.arraycopy(x, 0, twice, 0, cols);
            System.arraycopy(x, 0, twice, cols, cols);
            float[] outs = new float[2 * rows];
            m.dots(0, rows, twice, 0, 2, outs, 0);
            for (int row = 0; row < rows; row++) {
                double exact = 0;
                for (int k = 0; k < cols; k++) {
                    exact += q[row * cols + k] / 64.0 * xq[k];
                }
                assertEquals(exact, m.dot(row, x, 0), 1e-5 * Math.max(1, Math.abs(exact)), "row " + row);
                assertEquals(exact, out[row], 1e-5 * Math.max(1, Math.abs(exact)), "row " + row + " of a range");
                assertEquals(exact, outs[rows + row], 1e-5 * Math.max(1, Math.abs(exact)), "row " + row + " in pairs");
            }
        }
    }

    @Test
    void scalarFallbackEqualsTheVectorKernel() {
        Random r = new Random(5);
        for (int group : new int[] {32, 16, 7, 64}) {
            for (int n : new int[] {1, 15, 32, 64, 100, 172, 512}) {
                Int8Matrix q = Int8Matrix.quantize(gaussian(r, n, 0.1f), 1, n, group);
                float[] x = gaussian(r, n + 2, 1f);
                float scalar = Int8Dot.scalar(q.values(), 0, q.scales(), 0, group, x, 2, n);
                double exact = 0;
                float[] deq = q.dequantize();
                for (int k = 0; k < n; k++) {
                    exact += (double) deq[k] * x[2 + k];
                }
                assertEquals(exact, scalar, 1e-5 * Math.sqrt(n), "scalar, group " + group + ", n " + n);
                if (Int8Dot.VECTOR) { // the tests run with the Vector API (pom argLine); then both kernels are live
                    float simd = VectorInt8Dot.dot(q.values(), 0, q.scales(), 0, group, x, 2, n);
                    assertEquals(scalar, simd, 1e-5 * Math.sqrt(n), "vector vs scalar, group " + group + ", n " + n);
                }
            }
        }
        assertTrue(Int8Dot.VECTOR, "the test JVM runs with jdk.incubator.vector, so the SIMD kernel is in use");
    }

    /**
     * The row-range product (one row after the other for one input, two rows per pass for the inputs after the
     * first of several in the SIMD kernel) equals {@link Int8Matrix#dot} bit for bit, for
     * every group size, odd and even ranges, column counts with partial groups, and an input offset; batched and
     * single decoding rely on it.
     */
    @Test
    void rowRangeProductsAreBitIdenticalToRowDots() {
        Random r = new Random(9);
        for (int group : new int[] {32, 16, 7}) {
            for (int cols : new int[] {5, 32, 48, 64, 96, 100, 512, 1100}) {
                int rows = 7;
                Int8Matrix q = Int8Matrix.quantize(gaussian(r, rows * cols, 0.1f), rows, cols, group);
                F32Matrix f = new F32Matrix(q.dequantize(), rows, cols);
                float[] x = gaussian(r, cols + 3, 1f);
                for (WeightMatrix w : new WeightMatrix[] {q, f}) {
                    for (int[] range : new int[][] {{0, 7}, {1, 7}, {2, 5}, {3, 4}, {6, 6}}) {
                        float[] out = new float[rows + 2];
                        java.util.Arrays.fill(out, -9f);
                        w.dots(range[0], range[1], x, 3, out, 2);
                        for (int row = 0; row < rows; row++) {
                            boolean in = row >= range[0] && row < range[1];
                            assertEquals(in ? w.dot(row, x, 3) : -9f, out[2 + row], 0f, w.getClass().getSimpleName()
                                    + " group " + group + " cols " + cols + " rows " + range[0] + ".." + range[1]
                                    + " row " + row);
                        }
                    }
                    // several inputs at once (continuous batching): input i's results are its own row dots
                    int b = 3;
                    float[] xs = gaussian(r, 1 + b * cols, 1f);
                    float[] outs = new float[1 + b * rows];
                    w.dots(1, 6, xs, 1, b, outs, 1);
                    for (int i = 0; i < b; i++) {
                        for (int row = 0; row < rows; row++) {
                            float want = row >= 1 && row < 6 ? w.dot(row, xs, 1 + i * cols) : 0f;
                            assertEquals(want, outs[1 + i * rows + row], 0f, w.getClass().getSimpleName() + " input "
                                    + i + " row " + row + " group " + group + " cols " + cols);
                        }
                    }
                }
            }
        }
    }

    /**
     * Rows wider than a kernel block are kept in the lanes-are-groups layout; none of it shows: the values come
     * back in file order, rows and panels dequantise column k to its own value, and the products match the sum
     * over the file-order values.
     */
    @Test
    void theKernelLayoutIsInvisibleFromOutside() {
        // 1100: two blocks and a tail with a partial group, kept natural (padding would add 40%); 1376 (FFN) and
        // 1000: tails padded to a whole block
        for (int cols : new int[] {1100, 1376, 1000}) {
            layoutIsInvisible(cols);
        }
    }

    private static void layoutIsInvisible(int cols) {
        Random r = new Random(13);
        int rows = 3;
        byte[] natural = new byte[rows * cols];
        for (int i = 0; i < natural.length; i++) {
            natural[i] = (byte) (r.nextInt(255) - 127);
        }
        int groups = Int8Matrix.groups(cols, 32);
        float[] s = new float[rows * groups];
        for (int i = 0; i < s.length; i++) {
            s[i] = 0.001f + r.nextFloat() * 0.01f;
        }
        Int8Matrix m = new Int8Matrix(natural.clone(), s, rows, cols, 32);
        assertArrayEquals(natural, m.values());
        float[] x = gaussian(r, cols + 1, 1f);
        float[] row = new float[cols];
        float[] panel = new float[cols * 4];
        m.panel(0, rows, 4, panel);
        double[] xq = quantisedInput(x, 1, cols, m.blockedColumns());
        for (int i = 0; i < rows; i++) {
            m.row(i, row, 0);
            double exact = 0;
            for (int k = 0; k < cols; k++) {
                float w = natural[i * cols + k] * s[i * groups + k / 32];
                assertEquals(w, row[k], 0f, "row " + i + " column " + k);
                assertEquals(w, panel[k * 4 + i], 0f, "panel row " + i + " column " + k);
                exact += w * xq[k];
            }
            assertEquals(exact, m.dot(i, x, 1), 2e-6 * Math.sqrt(cols) * 4, "row " + i + ", " + cols + " columns");
        }
        float[] outs = new float[rows];
        m.dots(0, rows, x, 1, outs, 0);
        for (int i = 0; i < rows; i++) {
            assertEquals(m.dot(i, x, 1), outs[i], 0f, "row-range product, row " + i + ", " + cols + " columns");
        }
    }

    /**
     * Inputs quantised once ({@link WeightMatrix#prepare}) serve every int8 matrix of the same width, with results
     * bit-identical to products that quantise their own; inputs prepared for another width are refused; float
     * matrices need nothing prepared.
     */
    @Test
    void preparedInputsGiveTheSameProductsForEveryMatrixOfTheirWidth() {
        Random r = new Random(21);
        int cols = 1376;
        int b = 3;
        Int8Matrix gate = Int8Matrix.quantize(gaussian(r, 40 * cols, 0.1f), 40, cols, 32);
        Int8Matrix up = Int8Matrix.quantize(gaussian(r, 24 * cols, 0.1f), 24, cols, 32);
        float[] x = gaussian(r, 2 + b * cols, 1f);
        Int8Matrix.Inputs in = gate.prepare(x, 2, b, null);
        assertTrue(in != null, "int8 rows in blocks quantise their inputs");
        for (Int8Matrix m : new Int8Matrix[] {gate, up}) {
            for (int n : new int[] {1, b}) {
                float[] want = new float[n * m.rows()];
                float[] got = new float[n * m.rows()];
                m.dots(3, m.rows() - 1, x, 2, n, want, 0);
                m.dots(3, m.rows() - 1, x, 2, n, in, got, 0);
                assertArrayEquals(want, got, 0f, m.rows() + " rows, " + n + " inputs");
            }
        }
        assertTrue(in == up.prepare(x, 2, 1, in), "the arrays are reused");
        Int8Matrix narrow = Int8Matrix.quantize(gaussian(r, 4 * 512, 0.1f), 4, 512, 32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> narrow.dots(0, 4, x, 2, 1, up.prepare(x, 2, 1, null), new float[4], 0));
        assertEquals("inputs prepared for 1 x 1376 columns in 3 blocks, not 1 x 512 in 1", e.getMessage());
        assertEquals(null, new F32Matrix(new float[4 * 64], 4, 64).prepare(x, 0, 1, null));
        assertEquals(null, Int8Matrix.quantize(new float[4 * 64], 4, 64, 32).prepare(x, 0, 1, null),
                "rows narrower than a block multiply float inputs");
    }

    /**
     * A group whose largest value is below ~3.7e-37 has a subnormal scale whose reciprocal overflows to infinity:
     * weights and inputs are then divided by the scale instead, so they keep their signs and sizes (every value
     * would have become ±127).
     */
    @Test
    void subnormalScalesQuantiseLikeNormalOnes() {
        Random r = new Random(31);
        int cols = 1024;
        float[] w = gaussian(r, 2 * cols, 1e-37f);
        Int8Matrix tiny = Int8Matrix.quantize(w, 2, cols, 32);
        float[] back = tiny.dequantize();
        for (int i = 0; i < w.length; i++) {
            float s = tiny.scales()[i / 32];
            assertTrue(Math.abs(w[i] - back[i]) <= s / 2 * 1.001f + Float.MIN_VALUE, "weight " + i + ": " + w[i]
                    + " came back as " + back[i]);
        }
        Int8Matrix m = Int8Matrix.quantize(gaussian(r, 3 * cols, 0.1f), 3, cols, 32);
        float[] x = gaussian(r, cols, 1e-37f);
        double[] xq = quantisedInput(x, 0, cols, m.blockedColumns());
        float[] deq = m.dequantize();
        for (int row = 0; row < 3; row++) {
            double exact = 0;
            double w8a8 = 0;
            double bound = 0; // each input value is off by at most half its group's scale
            for (int k = 0; k < cols; k++) {
                exact += (double) deq[row * cols + k] * x[k];
                w8a8 += (double) deq[row * cols + k] * xq[k];
                bound += Math.abs(deq[row * cols + k] * (xq[k] - x[k]));
            }
            // s_w · s_x is itself subnormal (~1e-40), so it keeps only ~4 digits
            assertEquals(w8a8, m.dot(row, x, 0), 1e-3 * Math.abs(w8a8), "row " + row);
            assertEquals(exact, m.dot(row, x, 0), bound * 1.01, "row " + row + " vs float input");
            assertTrue(bound < 0.02 * Math.sqrt(cols) * 1e-37, "the inputs' rounding: " + bound);
        }
    }

    /**
     * The SIMD input quantiser (a group's max |x| on the bits, reciprocal, rounding by 1.5 · 2^23, integer clamp)
     * writes exactly the scalar loop's values and scales: whole blocks, a last block that ends early (1376 = 2 blocks
     * + 352, 700: a group cut short), an all-zero group, a group of subnormal size and a NaN (both fall back to the
     * scalar loop), ±0 and values that round to ±127 or sit on a half.
     */
    @Test
    void simdInputQuantiserMatchesTheScalarLoop() {
        assertTrue(Int8Dot.VECTOR, "the test JVM runs with jdk.incubator.vector, so the SIMD quantiser is in use");
        Random r = new Random(47);
        for (int n : new int[] {512, 1024, 1376, 700, 1536, 2048 + 33}) {
            int blocks = (n + Int8Dot.BLOCK_COLS - 1) / Int8Dot.BLOCK_COLS;
            for (int trial = 0; trial < 6; trial++) {
                float[] x = gaussian(r, n + 7, trial == 5 ? 1e-37f : 1f);
                for (int i = 32; i < 64; i++) {
                    x[3 + i] = trial % 2 == 0 ? 0f : -0f; // a group of zeros
                }
                x[3 + 100] = 40f * (trial + 1); // a large value: its group's others round small
                x[3 + 130] = -x[3 + 100];
                x[3 + 300] = Float.intBitsToFloat(0xFFC12345); // a NaN with payload bits: its group's value is 0
                for (int i = 160; i < 192 && trial == 3; i++) {
                    x[3 + i] = (i - 160) * 0.5f; // values that land on halves of the scale
                }
                short[] vs = new short[blocks * Int8Dot.BLOCK_COLS + 5];
                short[] ss = vs.clone();
                float[] vsc = new float[blocks * Int8Dot.BLOCK_GROUPS + 2];
                float[] ssc = vsc.clone();
                Int8Dot.quantizeInputs(x, 3, blocks, n, vs, 5, vsc, 2, true);
                if (trial < 5 && n >= Int8Dot.BLOCK_COLS) { // the SIMD path itself takes whole blocks of normal values
                    float[] finite = x.clone();
                    finite[3 + 300] = 0f;
                    assertTrue(VectorInt8Dot.quantizeBlock(finite, 3, new short[Int8Dot.BLOCK_COLS], 0,
                            new float[Int8Dot.BLOCK_GROUPS], 0), "SIMD quantiser refused a normal block, n " + n);
                    // a NaN (or an infinity) is left to the scalar loop, whose rules the comparison below checks
                    assertFalse(VectorInt8Dot.quantizeBlock(x, 3, new short[Int8Dot.BLOCK_COLS], 0,
                            new float[Int8Dot.BLOCK_GROUPS], 0), "SIMD quantiser took a block with a NaN, n " + n);
                }
                Int8Dot.quantizeInputs(x, 3, blocks, n, ss, 5, ssc, 2, false);
                assertArrayEquals(ss, vs, "values, n " + n + " trial " + trial);
                assertArrayEquals(ssc, vsc, "scales, n " + n + " trial " + trial);
            }
        }
    }

    @Test
    void rowRangeProductsCheckTheirRangesFirst() {
        Int8Matrix q = Int8Matrix.quantize(new float[4 * 64], 4, 64, 32);
        float[] out = new float[4];
        assertThrows(IndexOutOfBoundsException.class, () -> q.dots(2, 5, new float[64], 0, out, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> q.dots(0, 2, new float[64], 1, out, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> q.dots(0, 4, new float[64], 0, out, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> q.dots(3, 2, new float[64], 0, out, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> q.dots(0, 4, new float[128], 0, 3, new float[12], 0));
        assertThrows(IndexOutOfBoundsException.class, () -> q.dots(0, 4, new float[192], 0, 3, new float[11], 0));
    }

    @Test
    void panelsHoldTheDequantisedRowsTransposed() {
        Random r = new Random(9);
        Int8Matrix q = Int8Matrix.quantize(gaussian(r, 6 * 40, 0.1f), 6, 40, 32);
        F32Matrix f = new F32Matrix(q.dequantize(), 6, 40);
        float[] a = new float[40 * 8];
        float[] b = new float[40 * 8];
        java.util.Arrays.fill(a, Float.NaN); // padding columns must be written as 0
        q.panel(2, 3, 8, a);
        f.panel(2, 3, 8, b);
        assertArrayEquals(b, a);
        assertEquals(f.values()[3 * 40 + 17], a[17 * 8 + 1]);
        assertEquals(0f, a[17 * 8 + 5]);
    }

    @Test
    void badInputIsRefusedWithTheReason() {
        Mm1Exception nan = assertThrows(Mm1Exception.class,
                () -> Int8Matrix.quantize(new float[] {1f, Float.NaN, 0f, 0f}, 2, 2, 32));
        assertEquals("cannot quantise: value NaN at (0, 1)", nan.getMessage());
        Mm1Exception shape = assertThrows(Mm1Exception.class,
                () -> new Int8Matrix(new byte[8], new float[3], 2, 4, 2));
        assertEquals("3 scales do not make (2, 2) = (rows, ceil(4 / group size 2))", shape.getMessage());
        Mm1Exception negative = assertThrows(Mm1Exception.class,
                () -> new Int8Matrix(new byte[4], new float[] {0.1f, -0.1f}, 2, 2, 2));
        assertEquals("scale -0.1 at (1, 0) is not a finite number >= 0", negative.getMessage());
        assertThrows(Mm1Exception.class, () -> Int8Matrix.quantize(new float[4], 2, 2, 0));
    }
}
