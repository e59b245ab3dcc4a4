package io.mm1j.llm;

/**
 * The int8 × float32 dot product of {@link Int8Matrix}: SIMD through the Vector API when it is in use and a float
 * vector has at least 8 lanes ({@link Dot#VECTOR}), else a scalar loop. Both sum each group's products first and
 * multiply by its scale once; {@link #scalar} stays callable for comparisons.
 */
public final class Int8Dot {
    /** True when the SIMD kernel is in use. */
    public static final boolean VECTOR = Dot.VECTOR && VectorInt8Dot.supported();

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
