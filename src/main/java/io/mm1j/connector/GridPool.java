package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.Resample;

/**
 * The pooling step of the grid connectors (average pooling, C-Abstractor): a g×g patch grid to √k×√k by adaptive
 * average pooling, as two matmuls with cached constant matrices (exactly torch's adaptive_avg_pool2d, uneven
 * windows included; see {@link Resample}).
 */
final class GridPool {
    private final Resample.Cache matrices;
    private final int side;

    GridPool(ParamStore params, int imageTokens) {
        this.matrices = new Resample.Cache(params.manager(), params.dtype());
        this.side = (int) Math.round(Math.sqrt(imageTokens));
    }

    /** √k, the side of the pooled grid. */
    int side() {
        return side;
    }

    /** Channels-first maps {@code x (N, C, g, g)} → {@code (N, C, s, s)}. */
    NDArray apply(NDArray x) {
        int g = Math.toIntExact(x.getShape().get(2));
        NDArray w = matrices.adaptiveAverage(g, side);
        return Resample.apply(x, w, w);
    }
}
