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
    private final int maxPositions;
    private final int half;

    public Rope(NDManager manager, int headDim, int maxPositions, double theta, DataType dtype) {
        this.maxPositions = maxPositions;
        this.half = headDim / 2;
        double[] c = new double[maxPositions * headDim];
        double[] s = new double[maxPositions * headDim];
        for (int p = 0; p < maxPositions; p++) {
            for (int i = 0; i < half; i++) {
                double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
                // transformers computes inv_freq in float32 and the angle as float32; mirror that so logits match
                float angle = (float) p * (float) invFreq;
                c[p * headDim + i] = c[p * headDim + i + half] = Math.cos(angle);
                // rotate_half(x)·sin = cat(x2, x1)·cat(-sin, sin): the halves swapped, the sign in the table
                s[p * headDim + i] = -Math.sin(angle);
                s[p * headDim + i + half] = Math.sin(angle);
            }
        }
        Shape shape = new Shape(maxPositions, headDim);
        // Created directly in the model dtype and kept: an NDArray made from Java data wraps that buffer, so it must
        // stay the live owner (converting a temporary with toType may alias it, and closing the temporary would then
        // leave the table pointing at freed memory after the next GC).
        this.cos = table(manager, c, shape, dtype);
        this.sin = table(manager, s, shape, dtype);
        NDScope.unregister(cos, sin);
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

    /** cos/sin rows for positions start..start+T-1, each (T, hd); shared by every layer of one forward pass. */
    public record Angles(NDArray cos, NDArray sin) {}

    public Angles angles(int start, int t) {
        if (start + t > maxPositions) {
            throw new io.mm1j.Mm1Exception("sequence position " + (start + t) + " exceeds maxPositions "
                    + maxPositions);
        }
        NDIndex rows = new NDIndex().addSliceDim(start, start + t);
        return new Angles(cos.get(rows), sin.get(rows));
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
}
