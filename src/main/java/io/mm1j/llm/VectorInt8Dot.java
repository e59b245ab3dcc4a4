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

    /** A byte vector of L lanes exists only from 8 lanes (64 bits) up. */
    static boolean supported() {
        return B != null;
    }

    static float dot(byte[] q, int qo, float[] s, int so, int group, float[] x, int xo, int n) {
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
