package io.mm1j.llm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD dot product on the JDK Vector API (incubator in Java 17–25; the launcher and tests add
 * {@code --add-modules jdk.incubator.vector}). Only loaded when that module is present: see {@link Dot}.
 * With AVX-512 this streams weights at ~20 GB/s on one core, against ~8 GB/s for the best scalar loop.
 */
final class VectorDot {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private VectorDot() {}

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int l = S.length();
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        FloatVector acc2 = FloatVector.zero(S);
        FloatVector acc3 = FloatVector.zero(S);
        int i = 0;
        for (; i + 4 * l <= n; i += 4 * l) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
            acc1 = FloatVector.fromArray(S, a, ao + i + l).fma(FloatVector.fromArray(S, b, bo + i + l), acc1);
            acc2 = FloatVector.fromArray(S, a, ao + i + 2 * l).fma(FloatVector.fromArray(S, b, bo + i + 2 * l), acc2);
            acc3 = FloatVector.fromArray(S, a, ao + i + 3 * l).fma(FloatVector.fromArray(S, b, bo + i + 3 * l), acc3);
        }
        for (; i + l <= n; i += l) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
        }
        float s = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[ao + i] * b[bo + i];
        }
        return s;
    }

    /** {@link Dot#weightedRows} with SIMD: one accumulator per slice of L outputs, the rows' FMAs in order. */
    static void weightedRows(float[] p, int rows, float[] v, int vo, int stride, float[] out, int oo, int n) {
        int l = S.length();
        int i = 0;
        for (; i + l <= n; i += l) {
            FloatVector acc = FloatVector.zero(S);
            for (int t = 0; t < rows; t++) {
                acc = FloatVector.fromArray(S, v, vo + t * stride + i).fma(FloatVector.broadcast(S, p[t]), acc);
            }
            acc.intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float s = 0;
            for (int t = 0; t < rows; t++) {
                s = Math.fma(v[vo + t * stride + i], p[t], s);
            }
            out[oo + i] = s;
        }
    }

    /** {@link Dot#rotateHalves} over whole vectors of the species; returns the first i left to the scalar loop. */
    static int rotateHalves(float[] v, int o, int half, float[] cos, float[] sin, int c) {
        int i = 0;
        for (; i + S.length() <= half; i += S.length()) {
            FloatVector a = FloatVector.fromArray(S, v, o + i);
            FloatVector b = FloatVector.fromArray(S, v, o + i + half);
            FloatVector cs = FloatVector.fromArray(S, cos, c + i);
            FloatVector sn = FloatVector.fromArray(S, sin, c + i);
            a.mul(cs).sub(b.mul(sn)).intoArray(v, o + i);
            b.mul(cs).add(a.mul(sn)).intoArray(v, o + i + half);
        }
        return i;
    }

    /** {@link Dot#expShifted} with SIMD: L of {@link Dot#exp} per pass, the same operations lane by lane. */
    static float expShifted(float[] x, int n, float shift) {
        int l = S.length();
        FloatVector sums = FloatVector.zero(S);
        FloatVector by = FloatVector.broadcast(S, shift);
        int t = 0;
        for (; t + l <= n; t += l) {
            FloatVector e = exp(FloatVector.fromArray(S, x, t).sub(by));
            e.intoArray(x, t);
            sums = sums.add(e);
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; t < n; t++) {
            x[t] = Dot.exp(x[t] - shift);
            sum += x[t];
        }
        return sum;
    }

    /** {@link Dot#exp} of every lane, bit for bit. */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> under = x.compare(VectorOperators.GE, Dot.EXP_MIN).not(); // below, −∞ or NaN
        FloatVector c = x.min(Dot.EXP_MAX);
        FloatVector t = c.mul(Dot.LOG2E).add(Dot.ROUND); // ROUND + k exactly: its low bits are k's
        FloatVector k = t.sub(Dot.ROUND);
        FloatVector r = k.fma(FloatVector.broadcast(S, -Dot.LN2_HI), c);
        r = k.fma(FloatVector.broadcast(S, -Dot.LN2_LO), r);
        FloatVector p = FloatVector.broadcast(S, Dot.P0).fma(r, FloatVector.broadcast(S, Dot.P1));
        p = p.fma(r, FloatVector.broadcast(S, Dot.P2));
        p = p.fma(r, FloatVector.broadcast(S, Dot.P3));
        p = p.fma(r, FloatVector.broadcast(S, Dot.P4));
        p = p.fma(r, FloatVector.broadcast(S, Dot.P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        // 2^k from t's bits: bits(t) = bits(ROUND) + k, and bits(ROUND) = 0x4B400000 has its low 9 bits zero, so
        // (bits(t) + 127) << 23 = (k + 127) << 23. (Converting k with F2I would give the same bits, but JDK 17 has
        // no AVX2 intrinsic for that conversion: it boxed every call, ~30 MB/s of garbage in decode attention.)
        IntVector bits = t.reinterpretAsInts().add(127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats()).blend(0f, under);
    }
}
