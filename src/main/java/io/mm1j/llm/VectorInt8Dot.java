package io.mm1j.llm;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD int8 × float32 dot product on the JDK Vector API ({@link Int8Dot}; loaded only when the incubator module is
 * present). Per step, L int8 weights are loaded (L/4 of the bytes of L floats), widened to L floats in registers
 * ({@code B2F}: sign extension and conversion) and multiplied with L inputs; each group's vector of partial sums is
 * scaled once into the row's accumulator, so there is one horizontal reduction per row, as in {@link VectorDot}.
 */
final class VectorInt8Dot {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Bytes with as many lanes as a float vector: L bytes widen to exactly one float vector. */
    private static final VectorSpecies<Byte> B = L >= 8 ? VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L))
            : null;

    private VectorInt8Dot() {}

    /** A byte vector of L lanes exists only from 8 lanes (64 bits) up; L ≤ 16 divides the Q8_0 group of 32. */
    static boolean supported() {
        return B != null && 32 % L == 0;
    }

    static float dot(byte[] q, int qo, float[] s, int so, int group, float[] x, int xo, int n) {
        return group == Q8_0 ? dot32(q, qo, s, so, x, xo, n) : generic(q, qo, s, so, group, x, xo, n);
    }

    /** The common group size (llama.cpp's Q8_0 block): {@link #PER_GROUP} vectors per group, fully unrolled. */
    private static final int Q8_0 = 32;
    private static final int PER_GROUP = Q8_0 / L;

    /**
     * Groups of 32, two per iteration into two accumulators (the scale FMA of one group need not wait for the
     * other's); a last partial group goes through {@link #generic}. About twice as fast as the generic loop.
     */
    private static float dot32(byte[] q, int qo, float[] s, int so, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        int g = so;
        for (; i + 2 * Q8_0 <= n; i += 2 * Q8_0, g += 2) {
            acc0 = group32(q, qo + i, x, xo + i).fma(FloatVector.broadcast(F, s[g]), acc0);
            acc1 = group32(q, qo + i + Q8_0, x, xo + i + Q8_0).fma(FloatVector.broadcast(F, s[g + 1]), acc1);
        }
        if (i + Q8_0 <= n) {
            acc0 = group32(q, qo + i, x, xo + i).fma(FloatVector.broadcast(F, s[g]), acc0);
            i += Q8_0;
            g++;
        }
        float rest = i < n ? generic(q, qo + i, s, g, Q8_0, x, xo + i, n - i) : 0;
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) + rest;
    }

    /** Σ of 32 products q[o + j] · x[xo + j] as a vector of partial sums (unscaled). */
    private static FloatVector group32(byte[] q, int o, float[] x, int xo) {
        FloatVector p = widen(q, o).mul(FloatVector.fromArray(F, x, xo));
        for (int j = 1; j < PER_GROUP; j++) { // a constant trip count: the JIT unrolls it
            p = widen(q, o + j * L).fma(FloatVector.fromArray(F, x, xo + j * L), p);
        }
        return p;
    }

    /** Any group size: whole vectors of each group, then its scalar remainder. */
    private static float generic(byte[] q, int qo, float[] s, int so, int group, float[] x, int xo, int n) {
        FloatVector acc = FloatVector.zero(F);
        float tail = 0;
        for (int start = 0, g = 0; start < n; start += group, g++) {
            int end = Math.min(n, start + group);
            FloatVector p0 = FloatVector.zero(F);
            FloatVector p1 = FloatVector.zero(F);
            int i = start;
            for (; i + 2 * L <= end; i += 2 * L) {
                p0 = widen(q, qo + i).fma(FloatVector.fromArray(F, x, xo + i), p0);
                p1 = widen(q, qo + i + L).fma(FloatVector.fromArray(F, x, xo + i + L), p1);
            }
            if (i + L <= end) {
                p0 = widen(q, qo + i).fma(FloatVector.fromArray(F, x, xo + i), p0);
                i += L;
            }
            float scale = s[so + g];
            acc = p0.add(p1).fma(FloatVector.broadcast(F, scale), acc);
            if (i < end) { // a group that is not a whole number of vectors
                float t = 0;
                for (; i < end; i++) {
                    t += q[qo + i] * x[xo + i];
                }
                tail += t * scale;
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) + tail;
    }

    /** L int8 values from q[o] as L floats. */
    private static FloatVector widen(byte[] q, int o) {
        return (FloatVector) ByteVector.fromArray(B, q, o).convertShape(VectorOperators.B2F, F, 0);
    }
}
