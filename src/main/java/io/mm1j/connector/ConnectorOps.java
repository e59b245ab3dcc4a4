package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import io.mm1j.Mm1Exception;
import java.util.Map;
import io.mm1j.nn.Resample;

/** Small pieces the connectors share. */
final class ConnectorOps {
    private ConnectorOps() {}

    /** {@code x @ W.T + b} with {@code prefix.weight (out, in)} and {@code prefix.bias (out)}. */
    static NDArray proj(ParamStore p, NDArray x, String prefix) {
        return p.linear(x, prefix + "weight", prefix + "bias");
    }

    /** Side of the square patch grid holding {@code patches} tokens, or a clear error. */
    static int gridSide(long patches, String connector) {
        int g = (int) Math.round(Math.sqrt(patches));
        if ((long) g * g != patches) {
            throw new Mm1Exception(connector + " connector: " + patches + " patch tokens do not form a square grid");
        }
        return g;
    }

    /** Adds {@code prefix.weight (out, in)} and {@code prefix.bias (out)} to a name → shape map. */
    static void linearShapes(Map<String, Shape> s, String prefix, long out, long in) {
        s.put(prefix + "weight", new Shape(out, in));
        s.put(prefix + "bias", new Shape(out));
    }

    static void requireWidth(NDArray patchTokens, long width, String connector) {
        if (patchTokens.getShape().dimension() != 3 || patchTokens.getShape().get(2) != width) {
            throw new Mm1Exception(connector + " connector: expected patch tokens (N, P, " + width + "), got "
                    + patchTokens.getShape());
        }
    }
}
