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
     * Rotary embedding of one head in place: for i in [0, half), (a, b) = (v[o + i], v[o + i + half]) becomes
     * (a · cos[c + i] − b · sin[c + i], b · cos[c + i] + a · sin[c + i]) (HF rotate_half pairs). The SIMD form
     * runs the same float operations lane by lane (no fused multiply-add), so both forms give the same bits.
     */
    public static void rotateHalves(float[] v, int o, int half, float[] cos, float[] sin, int c) {
        int i = VECTOR ? VectorDot.rotateHalves(v, o, half, cos, sin, c) : 0;
        for (; i < half; i++) {
            float a = v[o + i];
            float b = v[o + i + half];
            float cs = cos[c + i];
            float sn = sin[c + i];
            v[o + i] = a * cs - b * sn;
            v[o + i + half] = b * cs + a * sn;
        }
    }

    /**
     * x[t] ← exp(x[t] − shift) for t in [0, n); returns their sum (a softmax's numerators and denominator), each by
     * {@link #exp}. The SIMD form runs the same float operations lane by lane, so both forms, and compiled and
     * interpreted code alike, give the same bits: the Vector API's own EXP does not (the JIT's vector math library
     * and the interpreter's per-lane {@link Math#exp} differ in the last bit, which broke bit-identical batched
     * decoding whenever the method was compiled between two runs).
     */
    public static float expShifted(float[] x, int n, float shift) {
        if (VECTOR) {
            return VectorDot.expShifted(x, n, shift);
        }
        float sum = 0;
        for (int t = 0; t < n; t++) {
            x[t] = exp(x[t] - shift);
            sum += x[t];
        }
        return sum;
    }

    /** Below this, exp underflows to 0 (e^x < the smallest normal float). */
    static final float EXP_MIN = -87.33654f;
    /** Above this, the result is clamped (e^88 ≈ 1.65·10³⁸, below the largest float). */
    static final float EXP_MAX = 88f;
    static final float LOG2E = 1.44269504088896341f;
    /** ln 2 split in two (Cody and Waite): n·LN2_HI is exact for |n| ≤ 128. */
    static final float LN2_HI = 0.693359375f;
    static final float LN2_LO = -2.12194440e-4f;
    /** Adding and subtracting 1.5·2²³ rounds a float of magnitude below 2²² to the nearest integer. */
    static final float ROUND = 12582912f;
    /** Minimax coefficients of (e^r − 1 − r)/r² on |r| ≤ ln2/2 (Cephes' expf), highest degree first. */
    static final float P0 = 1.9875691500e-4f;
    static final float P1 = 1.3981999507e-3f;
    static final float P2 = 8.3334519073e-3f;
    static final float P3 = 4.1665795894e-2f;
    static final float P4 = 1.6666665459e-1f;
    static final float P5 = 5.0000001201e-1f;

    /**
     * e^x in float, within 2 ulp of {@link Math#exp} for x in [{@link #EXP_MIN}, {@link #EXP_MAX}], 0 below (and
     * for −∞ and NaN), clamped above: x = n·ln2 + r, e^r by a degree-7 polynomial, times 2ⁿ built from its bits.
     * Only IEEE float adds, products and fused multiply-adds, so every JVM tier gives the same bits, and
     * {@link VectorDot}'s lane-wise form matches it exactly.
     */
    public static float exp(float x) {
        if (!(x >= EXP_MIN)) {
            return 0f;
        }
        float c = Math.min(x, EXP_MAX);
        float k = (c * LOG2E + ROUND) - ROUND;
        float r = Math.fma(k, -LN2_HI, c);
        r = Math.fma(k, -LN2_LO, r);
        float p = Math.fma(P0, r, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        return y * Float.intBitsToFloat(((int) k + 127) << 23);
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
