package io.mm1j.llm;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD int8 dot products on the JDK Vector API ({@link Int8Dot}; loaded only when the incubator module is present).
 * Rows in the block layout are multiplied by an input quantised to int8 ({@link #blocked}: int8 × int8 products
 * summed exactly in integers, one float conversion and scale per group). Other rows ({@link #dot}): per step, L int8
 * weights are loaded (L/4 of the bytes of L floats), widened to L floats in registers ({@code B2F}: sign extension
 * and conversion) and multiplied with L float inputs; each group's vector of partial sums is scaled once into the
 * row's accumulator, so there is one horizontal reduction per row, as in {@link VectorDot}.
 */
final class VectorInt8Dot {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Bytes with as many lanes as a float vector: L bytes widen to exactly one float vector. */
    private static final VectorSpecies<Byte> B = L >= 8 ? VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L))
            : null;
    /** The int8 × int8 block kernel's species: 256 bits of floats, ints and shorts, 128 of bytes. */
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;

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
     * Columns of one block of the lanes-are-groups layout ({@link Int8Matrix}): 16 groups of 32, value k of group g
     * at {@code k · 16 + g}, so a vector of 16 shorts holds the k-th value of every group. The block is the same on
     * every machine with 256-bit vectors (AVX2 and AVX-512 alike), and so are the results.
     */
    static int blockCols() {
        return Q8_0 * BLOCK_GROUPS;
    }

    /** Groups per block: the lanes of a 256-bit vector of shorts. */
    static final int BLOCK_GROUPS = 16;

    /**
     * Where group g's scale sits among a block's 16 kernel scales: the even groups first, then the odd ones, the
     * order in which {@link #blocked} finds the groups' sums in its int lanes.
     */
    static int scaleSlot(int g) {
        return (g % 2) * (BLOCK_GROUPS / 2) + g / 2;
    }

    /**
     * One row's full blocks times an input quantised to int8 per group of 32 ({@link Int8Dot#quantizeInputs}: values
     * {@code xs} in the block layout, scales {@code sx} in {@link #scaleSlot} order), as llama.cpp's Q8_0 × Q8_0
     * product. The product of an int8 weight and an int8 input is exact in 16 bits (|q · x| ≤ 128 · 127) and so is
     * the sum of two (≤ 32,512); the sum of two consecutive values' products of each group is then split into its two
     * 16-bit halves by shifts (the even group's in the low half of an int lane, the odd group's in the high half)
     * and summed exactly in 32 bits, and each group's total is converted and scaled once by s_w · s_x. Per 32
     * products that is about 10 vector operations, against 16 for widening each weight to a float (the Vector API
     * has no int8 dot product instruction).
     */
    static float blocked(byte[] t, int qo, float[] s, int so, short[] xs, int xo, float[] sx, int sxo, int blocks) {
        FloatVector tot = FloatVector.zero(F8);
        for (int b = 0, base = 0; b < blocks; b++, base += Q8_0 * BLOCK_GROUPS) {
            IntVector even = IntVector.zero(I8);
            IntVector odd = IntVector.zero(I8);
            for (int k = 0; k < Q8_0; k += 2) {
                int o = base + k * BLOCK_GROUPS;
                IntVector p = pairSum(t, qo + o, xs, xo + o);
                even = even.add(p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                odd = odd.add(p.lanewise(VectorOperators.ASHR, 16));
            }
            tot = scaled(even, odd, s, so + b * BLOCK_GROUPS, sx, sxo + b * BLOCK_GROUPS, tot);
        }
        return tot.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #blocked} for two rows, each row's operations exactly those of {@link #blocked} (bit-identical
     * results), every input vector loaded once for both. Writes out[oo] and out[oo + 1].
     */
    static void blocked2(byte[] t, int qa, int qb, float[] s, int sa, int sb, short[] xs, int xo, float[] sx,
            int sxo, int blocks, float[] out, int oo) {
        FloatVector ta = FloatVector.zero(F8);
        FloatVector tb = FloatVector.zero(F8);
        for (int b = 0, base = 0; b < blocks; b++, base += Q8_0 * BLOCK_GROUPS) {
            IntVector aEven = IntVector.zero(I8);
            IntVector aOdd = IntVector.zero(I8);
            IntVector bEven = IntVector.zero(I8);
            IntVector bOdd = IntVector.zero(I8);
            for (int k = 0; k < Q8_0; k += 2) {
                int o = base + k * BLOCK_GROUPS;
                ShortVector x0 = ShortVector.fromArray(S16, xs, xo + o);
                ShortVector x1 = ShortVector.fromArray(S16, xs, xo + o + BLOCK_GROUPS);
                IntVector p = widen16(t, qa + o).mul(x0).add(widen16(t, qa + o + BLOCK_GROUPS).mul(x1))
                        .reinterpretAsInts();
                IntVector r = widen16(t, qb + o).mul(x0).add(widen16(t, qb + o + BLOCK_GROUPS).mul(x1))
                        .reinterpretAsInts();
                aEven = aEven.add(p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                aOdd = aOdd.add(p.lanewise(VectorOperators.ASHR, 16));
                bEven = bEven.add(r.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
                bOdd = bOdd.add(r.lanewise(VectorOperators.ASHR, 16));
            }
            int g = b * BLOCK_GROUPS;
            ta = scaled(aEven, aOdd, s, sa + g, sx, sxo + g, ta);
            tb = scaled(bEven, bOdd, s, sb + g, sx, sxo + g, tb);
        }
        out[oo] = ta.reduceLanes(VectorOperators.ADD);
        out[oo + 1] = tb.reduceLanes(VectorOperators.ADD);
    }

    /** A gather's index map: the same value of 8 consecutive groups of 32. */
    private static final int[] GROUP_STARTS = {0, 32, 64, 96, 128, 160, 192, 224};
    private static final int ROUND_BITS = Float.floatToRawIntBits(Dot.ROUND);
    private static final VectorSpecies<Short> S8 = ShortVector.SPECIES_128;

    /**
     * One whole block of {@link Int8Dot#quantizeInputs} (x[o .. o + 512) into xs[xo ..) and the block's 16 scales
     * into sx[so ..)), 8 groups at a time: lane j of a vector holds group j's value, gathered at a stride of 32, so
     * a group's max |x| is a lane-wise max over its 32 values and each vector of rounded values is one store in the
     * block layout. The arithmetic is the scalar loop's (max |x|, / 127, 1 / scale, x · (1 / scale), round to
     * nearest even by adding and subtracting 1.5 · 2^23, clamp to ±127), lane by lane, so the results are
     * bit-identical; the integer is read from the rounded float's low bits (JDK 17 has no AVX2 F2I intrinsic).
     * Returns false, writing nothing, when a scale is subnormal (its reciprocal overflows; the scalar loop then
     * divides by it).
     */
    static boolean quantizeBlock(float[] x, int o, short[] xs, int xo, float[] sx, int so) {
        java.util.Objects.checkFromIndexSize(o, Q8_0 * BLOCK_GROUPS, x.length);
        FloatVector lo = FloatVector.zero(F8);
        FloatVector hi = FloatVector.zero(F8);
        int h = o + Q8_0 * BLOCK_GROUPS / 2;
        for (int v = 0; v < Q8_0; v++) {
            lo = lo.max(FloatVector.fromArray(F8, x, o + v, GROUP_STARTS, 0).abs());
            hi = hi.max(FloatVector.fromArray(F8, x, h + v, GROUP_STARTS, 0).abs());
        }
        FloatVector scaleLo = lo.div(127f);
        FloatVector scaleHi = hi.div(127f);
        FloatVector invLo = reciprocal(scaleLo);
        FloatVector invHi = reciprocal(scaleHi);
        if (invLo == null || invHi == null) {
            return false;
        }
        for (int v = 0; v < Q8_0; v++) {
            rounded(x, o + v, invLo, xs, xo + v * BLOCK_GROUPS);
            rounded(x, h + v, invHi, xs, xo + v * BLOCK_GROUPS + BLOCK_GROUPS / 2);
        }
        for (int g = 0; g < BLOCK_GROUPS / 2; g++) {
            sx[so + scaleSlot(g)] = scaleLo.lane(g);
            sx[so + scaleSlot(g + BLOCK_GROUPS / 2)] = scaleHi.lane(g);
        }
        return true;
    }

    /** 1 / scale lane-wise, 0 where the scale is 0; null when a non-zero scale's reciprocal overflows. */
    private static FloatVector reciprocal(FloatVector scale) {
        FloatVector inv = FloatVector.broadcast(F8, 1f).div(scale);
        VectorMask<Float> infinite = inv.compare(VectorOperators.EQ, Float.POSITIVE_INFINITY);
        if (!infinite.anyTrue()) {
            return inv;
        }
        if (infinite.and(scale.compare(VectorOperators.NE, 0f)).anyTrue()) {
            return null;
        }
        return inv.blend(0f, infinite);
    }

    /** 8 groups' values at x[o + 32 · j] times inv, rounded and clamped to ±127, as 8 shorts at xs[xo ..). */
    private static void rounded(float[] x, int o, FloatVector inv, short[] xs, int xo) {
        FloatVector y = FloatVector.fromArray(F8, x, o, GROUP_STARTS, 0).mul(inv);
        y = y.blend(0f, y.test(VectorOperators.IS_NAN)); // as the scalar loop's (short) NaN: 0, whatever its bits
        FloatVector t = y.add(Dot.ROUND).max(Dot.ROUND - 127f).min(Dot.ROUND + 127f);
        ((ShortVector) t.reinterpretAsInts().sub(ROUND_BITS).convertShape(VectorOperators.I2S, S8, 0))
                .intoArray(xs, xo);
    }

    /** Lanes of 2 · 16 products (values k and k + 1 of the 16 groups at o) summed pairwise, seen as 8 ints. */
    private static IntVector pairSum(byte[] t, int o, short[] xs, int xo) {
        return widen16(t, o).mul(ShortVector.fromArray(S16, xs, xo))
                .add(widen16(t, o + BLOCK_GROUPS).mul(ShortVector.fromArray(S16, xs, xo + BLOCK_GROUPS)))
                .reinterpretAsInts();
    }

    /** acc + the even groups' sums · their s_w · s_x + the odd groups' likewise (scales in slot order from so, xo). */
    private static FloatVector scaled(IntVector even, IntVector odd, float[] s, int so, float[] sx, int xo,
            FloatVector acc) {
        int h = BLOCK_GROUPS / 2;
        FloatVector se = FloatVector.fromArray(F8, s, so).mul(FloatVector.fromArray(F8, sx, xo));
        FloatVector sd = FloatVector.fromArray(F8, s, so + h).mul(FloatVector.fromArray(F8, sx, xo + h));
        return ((FloatVector) odd.convert(VectorOperators.I2F, 0))
                .fma(sd, ((FloatVector) even.convert(VectorOperators.I2F, 0)).fma(se, acc));
    }

    /** 16 int8 values from q[o] as 16 shorts (sign-extended). */
    private static ShortVector widen16(byte[] q, int o) {
        return (ShortVector) ByteVector.fromArray(B16, q, o).convertShape(VectorOperators.B2S, S16, 0);
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
