package io.mm1j.llm;

/**
 * Dot products for the CPU decode path: SIMD through the Vector API when the JVM was started with
 * {@code --add-modules jdk.incubator.vector} (the {@code mm1} launcher and the tests do), else an 8-accumulator
 * scalar loop. The choice follows from how the JVM was started and is a static final constant, so the JIT keeps
 * only one branch; {@link #scalar} stays callable for comparisons.
 */
public final class Dot {
    /** True when the SIMD kernel is in use. */
    public static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    private Dot() {}

    /** a[ao..ao+n) · b[bo..bo+n). */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        return VECTOR ? VectorDot.dot(a, ao, b, bo, n) : scalar(a, ao, b, bo, n);
    }

    /**
     * out[oo + i] = Σ_{t < rows} p[t] · v[vo + t·stride + i] for i in [0, n): a weighted sum of rows (attention's
     * probabilities times the cached values). The SIMD form keeps each slice of out in a register across all rows
     * (3–4× faster than accumulating into the array row by row); both forms add the rows in order, the SIMD one
     * with fused multiply-adds.
     */
    public static void weightedRows(float[] p, int rows, float[] v, int vo, int stride, float[] out, int oo, int n) {
        if (VECTOR) {
            VectorDot.weightedRows(p, rows, v, vo, stride, out, oo, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            out[oo + i] = 0;
        }
        for (int t = 0; t < rows; t++) {
            float pt = p[t];
            int r = vo + t * stride;
            for (int i = 0; i < n; i++) {
                out[oo + i] += pt * v[r + i];
            }
        }
    }

    /**
     * x[t] ← exp(x[t] − shift) for t in [0, n); returns their sum (a softmax's numerators and denominator). The SIMD
     * form uses the Vector API's EXP (the JVM's vector math library, within an ulp or two of {@link Math#exp}).
     */
    public static float expShifted(float[] x, int n, float shift) {
        if (VECTOR) {
            return VectorDot.expShifted(x, n, shift);
        }
        float sum = 0;
        for (int t = 0; t < n; t++) {
            x[t] = (float) Math.exp(x[t] - shift);
            sum += x[t];
        }
        return sum;
    }

    /** Eight independent accumulators let the JIT pipeline the loads (no SIMD reduction in scalar Java). */
    static float scalar(float[] w, int off, float[] x, int xo, int n) {
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        float s4 = 0;
        float s5 = 0;
        float s6 = 0;
        float s7 = 0;
        int i = 0;
        for (; i + 7 < n; i += 8) {
            int o = off + i;
            int p = xo + i;
            s0 += w[o] * x[p];
            s1 += w[o + 1] * x[p + 1];
            s2 += w[o + 2] * x[p + 2];
            s3 += w[o + 3] * x[p + 3];
            s4 += w[o + 4] * x[p + 4];
            s5 += w[o + 5] * x[p + 5];
            s6 += w[o + 6] * x[p + 6];
            s7 += w[o + 7] * x[p + 7];
        }
        for (; i < n; i++) {
            s0 += w[off + i] * x[xo + i];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }
}
