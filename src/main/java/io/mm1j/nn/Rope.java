package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.NDList;
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
    private final NDArray sin; // (maxPositions, headDim)
    private final int maxPositions;

    public Rope(NDManager manager, int headDim, int maxPositions, double theta, DataType dtype) {
        this.maxPositions = maxPositions;
        int half = headDim / 2;
        double[] c = new double[maxPositions * headDim];
        double[] s = new double[maxPositions * headDim];
        for (int p = 0; p < maxPositions; p++) {
            for (int i = 0; i < half; i++) {
                double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
                // transformers computes inv_freq in float32 and the angle as float32; mirror that so logits match
                float angle = (float) p * (float) invFreq;
                c[p * headDim + i] = c[p * headDim + i + half] = Math.cos(angle);
                s[p * headDim + i] = s[p * headDim + i + half] = Math.sin(angle);
            }
        }
        Shape shape = new Shape(maxPositions, headDim);
        this.cos = manager.create(c, shape).toType(dtype, false);
        this.sin = manager.create(s, shape).toType(dtype, false);
        NDScope.unregister(cos, sin);
    }

    /**
     * Rotates {@code x} (B, nh, T, hd) whose tokens sit at absolute positions start..start+T-1.
     */
    public NDArray apply(NDArray x, int start) {
        long t = x.getShape().get(2);
        if (start + t > maxPositions) {
            throw new io.mm1j.tensor.Mm1Exception("sequence position " + (start + t) + " exceeds maxPositions "
                    + maxPositions);
        }
        NDIndex rows = new NDIndex("{}:{}", start, start + t);
        NDArray c = cos.get(rows); // (T, hd), broadcasts over (B, nh)
        NDArray s = sin.get(rows);
        NDList halves = x.split(2, x.getShape().dimension() - 1); // x1 = x[..., :hd/2], x2 = x[..., hd/2:]
        NDArray rotated = halves.get(1).neg().concat(halves.get(0), -1);
        return x.mul(c).add(rotated.mul(s));
    }
}
