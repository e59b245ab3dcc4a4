package io.mm1j.llm;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
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
     * the sum of two, lo for an even group and hi for the next odd one in the two halves of an int lane (|lo|, |hi|
     * ≤ 32,512). With 2^15 added to the low half alone (a 16-bit addition: lo + 2^15 lies in [256, 65,280], no carry)
     * the lane is the int p = hi · 2^16 + lo + 2^15, so hi = p >> 16 exactly: per step the kernel sums p and p >> 16,
     * and once per block the even groups' totals are Σp − (Σhi << 16) − 16 · 2^15, exact in 32 bits (wrapping on the
     * way; |Σlo| ≤ 16 · 32,512). Each group's total is converted and scaled once by s_w · s_x. Per 32 products that
     * is 9 vector operations (2 widenings, 2 multiplies, 5 additions and shifts), against 16 for widening each
     * weight to a float (the Vector API has no int8 dot product instruction).
     */
    static float blocked(byte[] t, int qo, float[] s, int so, short[] xs, int xo, float[] sx, int sxo, int blocks) {
        FloatVector tot = FloatVector.zero(F8);
        for (int b = 0, base = 0; b < blocks; b++, base += Q8_0 * BLOCK_GROUPS) {
            IntVector all = IntVector.zero(I8);
            IntVector odd = IntVector.zero(I8);
            for (int k = 0; k < Q8_0; k += 2) {
                int o = base + k * BLOCK_GROUPS;
                IntVector p = pairSum(t, qo + o, xs, xo + o);
                all = all.add(p);
                odd = odd.add(high(p));
            }
            tot = scaled(all, odd, s, so + b * BLOCK_GROUPS, sx, sxo + b * BLOCK_GROUPS, tot);
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
            IntVector aAll = IntVector.zero(I8);
            IntVector aOdd = IntVector.zero(I8);
            IntVector bAll = IntVector.zero(I8);
            IntVector bOdd = IntVector.zero(I8);
            for (int k = 0; k < Q8_0; k += 2) {
                int o = base + k * BLOCK_GROUPS;
                ShortVector x0 = ShortVector.fromArray(S16, xs, xo + o);
                ShortVector x1 = ShortVector.fromArray(S16, xs, xo + o + BLOCK_GROUPS);
                IntVector p = widen16(t, qa + o).mul(x0).add(widen16(t, qa + o + BLOCK_GROUPS).mul(x1))
                        .add(LOW_BIAS).reinterpretAsInts();
                IntVector r = widen16(t, qb + o).mul(x0).add(widen16(t, qb + o + BLOCK_GROUPS).mul(x1))
                        .add(LOW_BIAS).reinterpretAsInts();
                aAll = aAll.add(p);
                aOdd = aOdd.add(high(p));
                bAll = bAll.add(r);
                bOdd = bOdd.add(high(r));
            }
            int g = b * BLOCK_GROUPS;
            ta = scaled(aAll, aOdd, s, sa + g, sx, sxo + g, ta);
            tb = scaled(bAll, bOdd, s, sb + g, sx, sxo + g, tb);
        }
        out[oo] = ta.reduceLanes(VectorOperators.ADD);
        out[oo + 1] = tb.reduceLanes(VectorOperators.ADD);
    }

    /** 2^15 in the low half of every int lane (the even shorts), 0 in the high half. */
    private static final ShortVector LOW_BIAS = ShortVector.fromArray(S16, lowBias(), 0);

    private static short[] lowBias() {
        short[] b = new short[S16.length()];
        for (int i = 0; i < b.length; i += 2) {
            b[i] = Short.MIN_VALUE; // 2^15 as an unsigned half: the even lanes are the low halves (little-endian)
        }
        return b;
    }

    /** The high halves (odd groups' pair sums) of lanes made by {@link #pairSum}. */
    private static IntVector high(IntVector p) {
        return p.lanewise(VectorOperators.ASHR, 16);
    }

    /** The bias that 16 steps of {@link #pairSum} add to the low halves' total. */
    private static final int BLOCK_BIAS = (Q8_0 / 2) << 15;

    private static final int ROUND_BITS = Float.floatToRawIntBits(Dot.ROUND);

    /** Per thread: one block's rounded values in file order (group g's 32 at g · 32), before they are interleaved. */
    private static final ThreadLocal<int[]> ROUNDED = ThreadLocal.withInitial(() -> new int[Q8_0 * BLOCK_GROUPS]);

    /**
     * One whole block of {@link Int8Dot#quantizeInputs} (x[o .. o + 512) into xs[xo ..) and the block's 16 scales
     * into sx[so ..)), a group at a time: its max |x| from four contiguous vectors, then its 32 values scaled,
     * rounded and clamped in four vectors into a per-thread array in file order, which is finally interleaved into
     * the block layout (value k of group g at k · 16 + g) by plain stores. The arithmetic is the scalar loop's (max
     * |x|, / 127, 1 / scale, x · (1 / scale), round to nearest even by adding and subtracting 1.5 · 2^23, clamp to
     * ±127), lane by lane, so the results are bit-identical; the integer is read from the rounded float's low bits
     * (JDK 17 has no AVX2 F2I intrinsic). Returns false, with the block's values not yet written (some of its
     * scales may be), when a group holds a value that is not finite (the scalar loop's NaN and infinity rules then
     * apply) or its scale is subnormal (its reciprocal overflows; the scalar loop then divides by it).
     */
    static boolean quantizeBlock(float[] x, int o, short[] xs, int xo, float[] sx, int so) {
        java.util.Objects.checkFromIndexSize(o, Q8_0 * BLOCK_GROUPS, x.length);
        java.util.Objects.checkFromIndexSize(xo, Q8_0 * BLOCK_GROUPS, xs.length);
        java.util.Objects.checkFromIndexSize(so, BLOCK_GROUPS, sx.length);
        int[] rounded = ROUNDED.get();
        for (int g = 0; g < BLOCK_GROUPS; g++) {
            int b = o + g * Q8_0;
            FloatVector v0 = FloatVector.fromArray(F8, x, b);
            FloatVector v1 = FloatVector.fromArray(F8, x, b + 8);
            FloatVector v2 = FloatVector.fromArray(F8, x, b + 16);
            FloatVector v3 = FloatVector.fromArray(F8, x, b + 24);
            // max |x| on the bits: for floats without their sign, integer order is float order (NaN above infinity)
            int bits = magnitude(v0).max(magnitude(v1)).max(magnitude(v2).max(magnitude(v3)))
                    .reduceLanes(VectorOperators.MAX);
            if (bits >= INFINITY_BITS) {
                return false;
            }
            float scale = Float.intBitsToFloat(bits) / 127f;
            float inv = scale == 0 ? 0 : 1f / scale;
            if (Float.isInfinite(inv)) {
                return false;
            }
            sx[so + scaleSlot(g)] = scale;
            FloatVector iv = FloatVector.broadcast(F8, inv);
            int r = g * Q8_0;
            rounded(v0, iv).intoArray(rounded, r);
            rounded(v1, iv).intoArray(rounded, r + 8);
            rounded(v2, iv).intoArray(rounded, r + 16);
            rounded(v3, iv).intoArray(rounded, r + 24);
        }
        for (int k = 0; k < Q8_0; k++) {
            int d = xo + k * BLOCK_GROUPS;
            for (int g = 0; g < BLOCK_GROUPS; g++) {
                xs[d + g] = (short) rounded[g * Q8_0 + k];
            }
        }
        return true;
    }

    private static final int INFINITY_BITS = Float.floatToRawIntBits(Float.POSITIVE_INFINITY);

    /** The bits of |v| lane-wise. */
    private static IntVector magnitude(FloatVector v) {
        return v.reinterpretAsInts().and(0x7fffffff);
    }

    /**
     * x · inv lane-wise (finite, |x · inv| ≤ ~127), rounded to the nearest integer (ties to even) and clamped to
     * ±127: x · inv + 1.5 · 2^23 is that integer plus 1.5 · 2^23, whose bits minus those of 1.5 · 2^23 are the
     * integer (one unit per ulp there); it is clamped as an integer (Java's float min and max cost blends).
     */
    private static IntVector rounded(FloatVector x, FloatVector inv) {
        return x.mul(inv).add(Dot.ROUND).reinterpretAsInts().sub(ROUND_BITS).max(-127).min(127);
    }

    /**
     * Lanes of 2 · 16 products (values k and k + 1 of the 16 groups at o) summed pairwise, 2^15 added to the low
     * halves, seen as 8 ints (see {@link #blocked}).
     */
    private static IntVector pairSum(byte[] t, int o, short[] xs, int xo) {
        return widen16(t, o).mul(ShortVector.fromArray(S16, xs, xo))
                .add(widen16(t, o + BLOCK_GROUPS).mul(ShortVector.fromArray(S16, xs, xo + BLOCK_GROUPS)))
                .add(LOW_BIAS).reinterpretAsInts();
    }

    /**
     * acc + each group's sum · its s_w · s_x, from a block's sums of pair lanes ({@code all}: Σp) and of their high
     * halves ({@code odd}: the odd groups' sums); the even groups' sums are Σp − (odd << 16) − the bias (see
     * {@link #blocked}).
     * Scales in slot order from so (weights) and xo (inputs).
     */
    private static FloatVector scaled(IntVector all, IntVector odd, float[] s, int so, float[] sx, int xo,
            FloatVector acc) {
        int h = BLOCK_GROUPS / 2;
        IntVector even = all.sub(odd.lanewise(VectorOperators.LSHL, 16)).sub(BLOCK_BIAS);
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
