package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * LayerNorm over the last axis, {@code (x - mean) / sqrt(var + eps) * w + b} with the biased variance
 * (torch.nn.functional.layer_norm). Used by the ViT (CLIP's pre-/post- and block norms) and by the connectors
 * (attention pooling's key norm, the C-Abstractor's channel norms), so it lives with the other shared layers.
 */
public final class LayerNorm {
    private LayerNorm() {}

    /**
     * @param x   (…, D)
     * @param w   gain (D)
     * @param b   bias (D)
     * @param eps variance epsilon (CLIP: 1e-5)
     * @return (…, D)
     */
    public static NDArray apply(NDArray x, NDArray w, NDArray b, double eps) {
        return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(w.getShape().get(0)), w, b, (float) eps)
                .singletonOrThrow();
    }
}
