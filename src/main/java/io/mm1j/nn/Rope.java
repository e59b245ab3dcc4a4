package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding in Hugging Face's {@code rotate_half} convention (pairs (i, i + d/2)), as Llama uses
 * in transformers: {@code x·cos + rotate_half(x)·sin} with {@code rotate_half(x) = cat(-x[d/2:], x[:d/2])} and
 * {@code inv_freq_i = θ^(-2i/d)}. Tables are computed once in double precision and stored in the model dtype.
 */
public final class Rope {
    private final NDArray cos; // (maxPositions, headDim)
    private final NDArray sin; // (maxPositions, headDim): sin with the sign of rotate_half folded in
    private final NDArray pairs; // (maxPositions, 1, headDim/2, 2): (cos, sin) of each pair's angle
    private final int maxPositions;
    private final int half;

    public Rope(NDManager manager, int headDim, int maxPositions, double theta, DataType dtype) {
        this.maxPositions = maxPositions;
        this.half = headDim / 2;
        double[] c = new double[maxPositions * headDim];
        double[] s = new double[maxPositions * headDim];
        double[] cs = new double[maxPositions * headDim];
        for (int p = 0; p < maxPositions; p++) {
            for (int i = 0; i < half; i++) {
                double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
                // transformers computes inv_freq in float32 and the angle as float32; mirror that so logits match
                float angle = (float) p * (float) invFreq;
                c[p * headDim + i] = c[p * headDim + i + half] = Math.cos(angle);
                // rotate_half(x)·sin = cat(x2, x1)·cat(-sin, sin): the halves swapped, the sign in the table
                s[p * headDim + i] = -Math.sin(angle);
                s[p * headDim + i + half] = Math.sin(angle);
                cs[p * headDim + 2 * i] = Math.cos(angle);
                cs[p * headDim + 2 * i + 1] = Math.sin(angle);
            }
        }
        Shape shape = new Shape(maxPositions, headDim);
        // Created directly in the model dtype and kept: an NDArray made from Java data wraps that buffer, so it must
        // stay the live owner (converting a temporary with toType may alias it, and closing the temporary would then
        // leave the table pointing at freed memory after the next GC).
        this.cos = table(manager, c, shape, dtype);
        this.sin = table(manager, s, shape, dtype);
        this.pairs = table(manager, cs, new Shape(maxPositions, 1, half, 2), dtype);
        NDScope.unregister(cos, sin, pairs);
    }

    private static NDArray table(NDManager manager, double[] values, Shape shape, DataType dtype) {
        if (dtype == DataType.FLOAT64) {
            return manager.create(values, shape);
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        NDArray a = manager.create(f, shape);
        return dtype == DataType.FLOAT32 ? a : a.toType(dtype, true); // a stays alive in the manager either way
    }

    /**
     * cos/sin rows for positions start..start+T-1, each (T, hd), and the same angles per pair for
     * {@link #applyPaired} (T, 1, hd/2, 2); shared by every layer of one forward pass.
     */
    public record Angles(NDArray cos, NDArray sin, NDArray pairs) {}

    public Angles angles(int start, int t) {
        if (start + t > maxPositions) {
            throw new io.mm1j.Mm1Exception("sequence position " + (start + t) + " exceeds maxPositions "
                    + maxPositions);
        }
        NDIndex rows = new NDIndex().addSliceDim(start, start + t);
        return new Angles(cos.get(rows), sin.get(rows), pairs.get(rows));
    }

    /** Rotates {@code x} (B, nh, T, hd) whose tokens sit at absolute positions start..start+T-1. */
    public NDArray apply(NDArray x, int start) {
        return apply(x, angles(start, Math.toIntExact(x.getShape().get(2))));
    }

    /**
     * x·cos + rotate_half(x)·sin with precomputed angles: the halves of x swapped (one flip of a (…, 2, hd/2) view,
     * a copy) times the signed sine table; each product is the same float product as with {@code cat(-x2, x1)}.
     */
    public NDArray apply(NDArray x, Angles a) {
        Shape s = x.getShape();
        long[] split = new long[s.dimension() + 1];
        System.arraycopy(s.getShape(), 0, split, 0, s.dimension() - 1);
        split[s.dimension() - 1] = 2;
        split[s.dimension()] = half;
        NDArray swapped = x.reshape(new Shape(split)).flip(s.dimension() - 1).reshape(s);
        return x.mul(a.cos()).add(swapped.mul(a.sin()));
    }

    /**
     * Whether {@link #applyPaired} serves an array of this dtype here: float32/64, the fused kernel loaded
     * ({@link ScriptKernels}) and not switched off.
     */
    public static boolean pairedAvailable(DataType t) {
        // -Dmm1.pairedRope=false keeps the half-split form in training too (for side-by-side timing)
        return (t == DataType.FLOAT32 || t == DataType.FLOAT64) && ScriptKernels.ropeAvailable()
                && !"false".equalsIgnoreCase(System.getProperty("mm1.pairedRope"));
    }

    /**
     * A projection weight (n·hd, D) with each head's rows in pair order: row 2i of a head is its row i, row 2i + 1
     * its row i + hd/2. Projecting with it gives each head's (x_i, x_{i+hd/2}) side by side, the pairs rotary
     * embedding turns; the same reordering of queries and keys leaves every q·k unchanged. A copy (weight-sized,
     * differentiable).
     */
    public NDArray pairRows(NDArray w, int heads) {
        Shape s = w.getShape();
        return w.reshape(heads, 2, half, s.get(1)).transpose(0, 2, 1, 3).reshape(s);
    }

    /**
     * Rotary embedding of {@code x} (B, T, n·hd) projected with {@link #pairRows} weights, by one complex product
     * per pair (the same rotation as {@link #apply}: {@code (a·cos − b·sin, a·sin + b·cos)}); returns (B, n, T, hd)
     * with each head's dims in pair order.
     */
    public NDArray applyPaired(NDArray x, int heads, Angles a) {
        Shape s = x.getShape();
        NDArray y = ScriptKernels.rotatePairs(x.reshape(s.get(0), s.get(1), heads, 2L * half), a.pairs());
        if (y == null) {
            throw new IllegalStateException("the fused rotary kernel is unavailable (check pairedAvailable first)");
        }
        return y.transpose(0, 2, 1, 3);
    }
}
