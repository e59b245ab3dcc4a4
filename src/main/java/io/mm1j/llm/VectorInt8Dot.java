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
    static final int Q8_0 = 32;
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

    /**
     * Two rows at once, each row's arithmetic exactly {@link #dot32}'s (same operations in the same order, so the
     * results are bit-identical to two {@link #dot} calls): every vector of x is loaded once for both rows, which
     * halves the input loads and gives the core two independent chains to overlap with the weight stream.
     * Writes out[oo] and out[oo + 1].
     */
    static void dot32x2(byte[] q, int qa, int qb, float[] s, int sa, int sb, float[] x, int xo, int n,
            float[] out, int oo) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        int i = 0;
        int g = 0;
        for (; i + 2 * Q8_0 <= n; i += 2 * Q8_0, g += 2) {
            FloatVector xv = FloatVector.fromArray(F, x, xo + i);
            FloatVector pa = widen(q, qa + i).mul(xv);
            FloatVector pb = widen(q, qb + i).mul(xv);
            for (int j = 1; j < PER_GROUP; j++) {
                xv = FloatVector.fromArray(F, x, xo + i + j * L);
                pa = widen(q, qa + i + j * L).fma(xv, pa);
                pb = widen(q, qb + i + j * L).fma(xv, pb);
            }
            a0 = pa.fma(FloatVector.broadcast(F, s[sa + g]), a0);
            b0 = pb.fma(FloatVector.broadcast(F, s[sb + g]), b0);
            int h = i + Q8_0;
            xv = FloatVector.fromArray(F, x, xo + h);
            pa = widen(q, qa + h).mul(xv);
            pb = widen(q, qb + h).mul(xv);
            for (int j = 1; j < PER_GROUP; j++) {
                xv = FloatVector.fromArray(F, x, xo + h + j * L);
                pa = widen(q, qa + h + j * L).fma(xv, pa);
                pb = widen(q, qb + h + j * L).fma(xv, pb);
            }
            a1 = pa.fma(FloatVector.broadcast(F, s[sa + g + 1]), a1);
            b1 = pb.fma(FloatVector.broadcast(F, s[sb + g + 1]), b1);
        }
        if (i + Q8_0 <= n) {
            a0 = group32(q, qa + i, x, xo + i).fma(FloatVector.broadcast(F, s[sa + g]), a0);
            b0 = group32(q, qb + i, x, xo + i).fma(FloatVector.broadcast(F, s[sb + g]), b0);
            i += Q8_0;
            g++;
        }
        float ra = i < n ? generic(q, qa + i, s, sa + g, Q8_0, x, xo + i, n - i) : 0;
        float rb = i < n ? generic(q, qb + i, s, sb + g, Q8_0, x, xo + i, n - i) : 0;
        out[oo] = a0.add(a1).reduceLanes(VectorOperators.ADD) + ra;
        out[oo + 1] = b0.add(b1).reduceLanes(VectorOperators.ADD) + rb;
    }

    /**
     * Columns of one block of the lanes-are-groups layout ({@link Int8Matrix}): L groups of 32, stored so that
     * the L values of one vector are the k-th value of each of the L groups, {@code t[k · L + g] = q[g · 32 + k]}.
     */
    static int blockCols() {
        return Q8_0 * L;
    }

    /**
     * One row's full blocks in the lanes-are-groups layout: lane g of a vector accumulates group g's 32 products
     * (two accumulators, even and odd k), then one multiply by the L contiguous scales of the block. Per 32 values
     * that is two widen + FMA pairs and no per-group broadcast and FMA, about a quarter fewer vector operations
     * than {@link #dot32}. {@code xt} is the input in the same layout ({@link Int8Dot#toBlocks}).
     */
    static float blocked(byte[] t, int qo, float[] s, int so, float[] xt, int xto, int blocks) {
        FloatVector tot = FloatVector.zero(F);
        for (int b = 0, base = 0; b < blocks; b++, base += Q8_0 * L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            for (int k = 0; k < Q8_0; k += 2) {
                int o = base + k * L;
                a0 = widen(t, qo + o).fma(FloatVector.fromArray(F, xt, xto + o), a0);
                a1 = widen(t, qo + o + L).fma(FloatVector.fromArray(F, xt, xto + o + L), a1);
            }
            tot = a0.add(a1).fma(FloatVector.fromArray(F, s, so + b * L), tot);
        }
        return tot.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #blocked} for two rows, each row's operations exactly those of {@link #blocked} (bit-identical
     * results), every input vector loaded once for both. Writes out[oo] and out[oo + 1].
     */
    static void blocked2(byte[] t, int qa, int qb, float[] s, int sa, int sb, float[] xt, int xto, int blocks,
            float[] out, int oo) {
        FloatVector ta = FloatVector.zero(F);
        FloatVector tb = FloatVector.zero(F);
        for (int b = 0, base = 0; b < blocks; b++, base += Q8_0 * L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector b0 = FloatVector.zero(F);
            FloatVector b1 = FloatVector.zero(F);
            for (int k = 0; k < Q8_0; k += 2) {
                int o = base + k * L;
                FloatVector x0 = FloatVector.fromArray(F, xt, xto + o);
                FloatVector x1 = FloatVector.fromArray(F, xt, xto + o + L);
                a0 = widen(t, qa + o).fma(x0, a0);
                a1 = widen(t, qa + o + L).fma(x1, a1);
                b0 = widen(t, qb + o).fma(x0, b0);
                b1 = widen(t, qb + o + L).fma(x1, b1);
            }
            ta = a0.add(a1).fma(FloatVector.fromArray(F, s, sa + b * L), ta);
            tb = b0.add(b1).fma(FloatVector.fromArray(F, s, sb + b * L), tb);
        }
        out[oo] = ta.reduceLanes(VectorOperators.ADD);
        out[oo + 1] = tb.reduceLanes(VectorOperators.ADD);
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
