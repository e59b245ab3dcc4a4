package io.mm1j.llm;

/**
 * The dot products of {@link Int8Matrix}: SIMD through the Vector API when it is in use and a float vector has at
 * least 8 lanes ({@link Dot#VECTOR}), else a scalar loop. Rows kept in whole blocks ({@link #BLOCK_COLS}) are
 * multiplied by the input quantised to int8 per group of 32, as llama.cpp multiplies Q8_0 weights ({@link
 * #blockedRows}); other rows and a row's tail multiply int8 weights by the float input ({@link #dot}). Both sum each
 * group's products first and multiply by its scale once; {@link #scalar} stays callable for comparisons.
 */
public final class Int8Dot {
    /** True when the SIMD kernel is in use. */
    public static final boolean VECTOR = Dot.VECTOR && VectorInt8Dot.supported();

    /**
     * Columns per block of the lanes-are-groups layout that {@link Int8Matrix} keeps for groups of 32 when the
     * SIMD kernel is in use (16 groups of 32: 512), else 0 (no blocks).
     */
    static final int BLOCK_COLS = VECTOR ? VectorInt8Dot.blockCols() : 0;

    /** Groups of 32 per block: the 16 lanes of a 256-bit vector of shorts. */
    static final int BLOCK_GROUPS = BLOCK_COLS / 32;

    /**
     * Where natural column k of a row is stored when the row's first {@code blocks} blocks are in the
     * lanes-are-groups layout (within a block, value k of group g at {@code k · 16 + g}); columns past them stay
     * put.
     */
    static int column(int k, int blocks) {
        if (k >= blocks * BLOCK_COLS) {
            return k;
        }
        int b = k / BLOCK_COLS;
        int w = k - b * BLOCK_COLS;
        return b * BLOCK_COLS + (w % 32) * BLOCK_GROUPS + w / 32;
    }

    /**
     * Quantises x[xo .. xo + blocks · BLOCK_COLS) to int8 per group of 32 columns, as llama.cpp quantises the input
     * of a Q8_0 product: scales {@code max|x| / 127} into sx[sxo ..) (a block's 16 in {@link VectorInt8Dot#scaleSlot}
     * order), values {@code rint(x · (1 / scale))} (x / scale when a subnormal scale's reciprocal overflows) in
     * [-127, 127] into xs[xso ..) in the block layout ({@link #column});
     * columns from {@code n} on (a row's tail padded to a whole block) are zeros.
     */
    static void quantizeInputs(float[] x, int xo, int blocks, int n, short[] xs, int xso, float[] sx, int sxo) {
        quantizeInputs(x, xo, blocks, n, xs, xso, sx, sxo, VECTOR);
    }

    /** A block's columns for the SIMD quantiser when the block runs past the input's end (zeros from there on). */
    private static final ThreadLocal<float[]> PADDED = ThreadLocal.withInitial(() -> new float[BLOCK_COLS]);

    /**
     * {@link #quantizeInputs}, through the SIMD quantiser ({@link VectorInt8Dot#quantizeBlock}: the same arithmetic,
     * bit-identical) when {@code simd}; a block whose scales include a subnormal one, and every block without
     * {@code simd}, goes through the scalar loop. Package-private for the tests that compare the two.
     */
    static void quantizeInputs(float[] x, int xo, int blocks, int n, short[] xs, int xso, float[] sx, int sxo,
            boolean simd) {
        for (int b = 0; b < blocks; b++) {
            int first = b * BLOCK_COLS;
            int block = sxo + b * BLOCK_GROUPS;
            if (simd && first + BLOCK_COLS <= n) {
                if (VectorInt8Dot.quantizeBlock(x, xo + first, xs, xso + first, sx, block)) {
                    continue;
                }
            } else if (simd && first < n) { // the last block, partial: its columns past n are zeros
                float[] padded = PADDED.get();
                System.arraycopy(x, xo + first, padded, 0, n - first);
                java.util.Arrays.fill(padded, n - first, BLOCK_COLS, 0f);
                if (VectorInt8Dot.quantizeBlock(padded, 0, xs, xso + first, sx, block)) {
                    continue;
                }
            }
            quantizeBlock(x, xo, b, n, xs, xso, sx, sxo);
        }
    }

    /** Block b of {@link #quantizeInputs}, one value at a time (the reference the SIMD quantiser matches). */
    private static void quantizeBlock(float[] x, int xo, int b, int n, short[] xs, int xso, float[] sx, int sxo) {
        int base = b * BLOCK_COLS;
        for (int g = 0; g < BLOCK_GROUPS; g++) {
            int first = base + g * 32;
            int end = Math.min(n, first + 32);
            float amax = 0;
            for (int c = first; c < end; c++) {
                amax = Math.max(amax, Math.abs(x[xo + c]));
            }
            float scale = amax / 127f;
            float inv = scale == 0 ? 0 : 1f / scale;
            boolean divide = Float.isInfinite(inv); // a subnormal scale (max|x| < ~3.7e-37): 1 / scale overflows
            for (int v = 0; v < 32; v++) {
                int c = first + v;
                float y = c < n ? (divide ? x[xo + c] / scale : x[xo + c] * inv) : 0f;
                // rint by the round-to-nearest-even of adding 1.5 · 2^23 (|y| ≤ 127, far below 2^22)
                float q = Math.max(-127f, Math.min(127f, (y + Dot.ROUND) - Dot.ROUND));
                xs[xso + base + v * BLOCK_GROUPS + g] = (short) q;
            }
            sx[sxo + b * BLOCK_GROUPS + VectorInt8Dot.scaleSlot(g)] = scale;
        }
    }

    /**
     * Row r of a (rows, n) matrix whose rows hold {@code blocks} blocks then a natural tail, times x (natural, at
     * xo): the blocks' sum against x quantised to int8 ({@link #quantizeInputs}: xs at xso, sx at sxo) plus the
     * tail's {@link #dot} against x as it is.
     */
    static float blockedRow(byte[] q, float[] s, int n, int blocks, int r, float[] x, int xo, short[] xs, int xso,
            float[] sx, int sxo) {
        int groups = (n + 31) / 32;
        return VectorInt8Dot.blocked(q, r * n, s, r * groups, xs, xso, sx, sxo, blocks)
                + tail(q, s, n, blocks, r, x, xo);
    }

    /**
     * {@link #blockedRow} for rows [from, to) into out[oo + r], bit-identical to it. With {@code paired}, two rows
     * per pass (each input vector loaded once for both: twice the work per load, the faster form while the weights
     * are cached, as when a tile of them meets several inputs); without, one row after the other, in memory order:
     * one sequential stream of weights (and one of scales), which the hardware prefetchers follow. A single
     * decode-time product streams its weights from memory, and there the paired form's loads, alternating between
     * two rows 512 bytes apart, were followed at about half the bandwidth: on the d512 shape, 2 threads, int8
     * regions streamed 22 GB/s where F32 ones streamed 42, and one row at a time took decode from 599–649 to
     * 874–957 tokens/s.
     */
    static void blockedRows(byte[] q, float[] s, int n, int blocks, int from, int to, float[] x, int xo,
            short[] xs, int xso, float[] sx, int sxo, float[] out, int oo, boolean paired) {
        int r = from;
        if (paired) {
            int groups = (n + 31) / 32;
            for (; r + 1 < to; r += 2) {
                VectorInt8Dot.blocked2(q, r * n, (r + 1) * n, s, r * groups, (r + 1) * groups, xs, xso, sx, sxo,
                        blocks, out, oo + r);
                out[oo + r] += tail(q, s, n, blocks, r, x, xo);
                out[oo + r + 1] += tail(q, s, n, blocks, r + 1, x, xo);
            }
        }
        for (; r < to; r++) {
            out[oo + r] = blockedRow(q, s, n, blocks, r, x, xo, xs, xso, sx, sxo);
        }
    }

    /** The natural columns after the blocks of row r (0 when there are none). */
    private static float tail(byte[] q, float[] s, int n, int blocks, int r, float[] x, int xo) {
        int done = blocks * BLOCK_COLS;
        if (done == n) {
            return 0f;
        }
        int groups = (n + 31) / 32;
        return dot(q, r * n + done, s, r * groups + blocks * BLOCK_GROUPS, 32, x, xo + done, n - done);
    }

    private Int8Dot() {}

    /**
     * Σ_k q[qo + k] · s[so + k / group] · x[xo + k] for k in [0, n).
     *
     * @param s the row's scales, one per {@code group} values (the last group may be shorter)
     */
    public static float dot(byte[] q, int qo, float[] s, int so, int group, float[] x, int xo, int n) {
        return VECTOR ? VectorInt8Dot.dot(q, qo, s, so, group, x, xo, n) : scalar(q, qo, s, so, group, x, xo, n);
    }

    /**
     * out[oo + r] = Σ_k q[r · n + k] · s[r · groups + k / group] · x[xo + k] for rows r in [from, to) of a
     * (rows, n) matrix: {@link #dot} per row, with {@code paired} two rows per pass where the SIMD kernel has one for
     * the group size (bit-identical to {@link #dot} either way; for cached weights: see {@link #blockedRows}). The
     * caller has checked every index range.
     */
    static void dots(byte[] q, float[] s, int group, int n, int from, int to, float[] x, int xo, float[] out,
            int oo, boolean paired) {
        int groups = (n + group - 1) / group;
        int r = from;
        if (paired && VECTOR && group == VectorInt8Dot.Q8_0) {
            for (; r + 1 < to; r += 2) {
                VectorInt8Dot.dot32x2(q, r * n, (r + 1) * n, s, r * groups, (r + 1) * groups, x, xo, n, out, oo + r);
            }
        }
        for (; r < to; r++) {
            out[oo + r] = dot(q, r * n, s, r * groups, group, x, xo, n);
        }
    }

    /** Four accumulators per group let the JIT pipeline the loads. */
    static float scalar(byte[] q, int qo, float[] s, int so, int group, float[] x, int xo, int n) {
        float total = 0;
        for (int start = 0, g = 0; start < n; start += group, g++) {
            int end = Math.min(n, start + group);
            float s0 = 0;
            float s1 = 0;
            float s2 = 0;
            float s3 = 0;
            int i = start;
            for (; i + 3 < end; i += 4) {
                s0 += q[qo + i] * x[xo + i];
                s1 += q[qo + i + 1] * x[xo + i + 1];
                s2 += q[qo + i + 2] * x[xo + i + 2];
                s3 += q[qo + i + 3] * x[xo + i + 3];
            }
            for (; i < end; i++) {
                s0 += q[qo + i] * x[xo + i];
            }
            total += ((s0 + s1) + (s2 + s3)) * s[so + g];
        }
        return total;
    }
}
