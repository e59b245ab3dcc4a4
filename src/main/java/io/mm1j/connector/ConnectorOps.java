package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import io.mm1j.Mm1Exception;
import io.mm1j.nn.Resample;

/** Small pieces the connectors share. */
final class ConnectorOps {
    private ConnectorOps() {}

    /** {@code x @ W.T + b} with {@code prefix.weight (out, in)} and {@code prefix.bias (out)}. */
    static NDArray proj(ParamStore p, NDArray x, String prefix) {
        return Ops.linear(x, p.get(prefix + "weight"), p.get(prefix + "bias"));
    }

    /** Side of the square patch grid holding {@code patches} tokens, or a clear error. */
    static int gridSide(long patches, String connector) {
        int g = (int) Math.round(Math.sqrt(patches));
        if ((long) g * g != patches) {
            throw new Mm1Exception(connector + " connector: " + patches + " patch tokens do not form a square grid");
        }
        return g;
    }

    /**
     * Adaptive average pooling of channels-first maps: {@code x (N, C, g, g)} → {@code (N, C, s, s)}, as two
     * matmuls with constant pooling matrices (exactly torch's adaptive_avg_pool2d; see {@link Resample}).
     */
    static NDArray adaptiveAvgPool(Resample.Cache m, NDArray x, int s) {
        int g = Math.toIntExact(x.getShape().get(2));
        NDArray w = m.adaptiveAverage(g, s);
        return Resample.apply(x, w, w);
    }

    static void requireWidth(NDArray patchTokens, long width, String connector) {
        if (patchTokens.getShape().dimension() != 3 || patchTokens.getShape().get(2) != width) {
            throw new Mm1Exception(connector + " connector: expected patch tokens (N, P, " + width + "), got "
                    + patchTokens.getShape());
        }
    }
}
