package io.mm1j.llm;

/**
 * The int8 × float32 dot product of {@link Int8Matrix}: SIMD through the Vector API when it is in use and a float
 * vector has at least 8 lanes ({@link Dot#VECTOR}), else a scalar loop. Both sum each group's products first and
 * multiply by its scale once; {@link #scalar} stays callable for comparisons.
 */
public final class Int8Dot {
    /** True when the SIMD kernel is in use. */
    public static final boolean VECTOR = Dot.VECTOR && VectorInt8Dot.supported();

    /**
     * Columns per block of the lanes-are-groups layout that {@link Int8Matrix} keeps for groups of 32 when the
     * SIMD kernel is in use (32 × float lanes: 512 with AVX-512, 256 with AVX2), else 0 (no blocks).
     */
    static final int BLOCK_COLS = VECTOR ? VectorInt8Dot.blockCols() : 0;

    /** Groups of 32 per block: the float lanes. */
    static final int BLOCK_GROUPS = BLOCK_COLS / 32;

    /**
     * Where natural column k of a row is stored when the row's first {@code blocks} blocks are in the
     * lanes-are-groups layout ({@code t[k · L + g] = q[g · 32 + k]} within a block); columns past them stay put.
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
     * x[xo .. xo + blocks · BLOCK_COLS) in the blocked layout, into xt[xto ..); columns from {@code n} on (a row's
     * tail padded to a whole block) are zeros.
     */
    static void toBlocks(float[] x, int xo, int blocks, float[] xt, int xto, int n) {
        for (int b = 0; b < blocks; b++) {
            int base = b * BLOCK_COLS;
            for (int g = 0; g < BLOCK_GROUPS; g++) {
                for (int k = 0; k < 32; k++) {
                    int c = base + g * 32 + k;
                    xt[xto + base + k * BLOCK_GROUPS + g] = c < n ? x[xo + c] : 0f;
                }
            }
        }
    }

    /**
     * Row r of a (rows, n) matrix whose rows hold {@code blocks} blocks then a natural tail, times x (natural, at
     * xo) and xt (its blocked copy, at xto): the blocks' sum plus the tail's {@link #dot}.
     */
    static float blockedRow(byte[] q, float[] s, int n, int blocks, int r, float[] x, int xo, float[] xt, int xto) {
        int groups = (n + 31) / 32;
        return VectorInt8Dot.blocked(q, r * n, s, r * groups, xt, xto, blocks) + tail(q, s, n, blocks, r, x, xo);
    }

    /** {@link #blockedRow} for rows [from, to) into out[oo + r], two rows per pass, bit-identical to it. */
    static void blockedRows(byte[] q, float[] s, int n, int blocks, int from, int to, float[] x, int xo,
            float[] xt, int xto, float[] out, int oo) {
        int groups = (n + 31) / 32;
        int r = from;
        for (; r + 1 < to; r += 2) {
            VectorInt8Dot.blocked2(q, r * n, (r + 1) * n, s, r * groups, (r + 1) * groups, xt, xto, blocks, out,
                    oo + r);
            out[oo + r] += tail(q, s, n, blocks, r, x, xo);
            out[oo + r + 1] += tail(q, s, n, blocks, r + 1, x, xo);
        }
        for (; r < to; r++) {
            out[oo + r] = blockedRow(q, s, n, blocks, r, x, xo, xt, xto);
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
     * (rows, n) matrix: {@link #dot} per row, two rows per pass where the SIMD kernel has one for the group size
     * (bit-identical to {@link #dot} either way). The caller has checked every index range.
     */
    static void dots(byte[] q, float[] s, int group, int n, int from, int to, float[] x, int xo, float[] out,
            int oo) {
        int groups = (n + group - 1) / group;
        int r = from;
        if (VECTOR && group == VectorInt8Dot.Q8_0) {
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
