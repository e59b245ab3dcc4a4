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
