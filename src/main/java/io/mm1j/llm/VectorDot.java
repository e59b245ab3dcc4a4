package io.mm1j.llm;

import jdk.incubator.vector.FloatVector;
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
}
