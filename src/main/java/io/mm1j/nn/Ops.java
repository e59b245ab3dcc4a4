package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;

/**
 * The small functional blocks every model here is made of. Each takes its parameters explicitly; scalars come
 * from the caller's cached {@link io.mm1j.tensor.Scalars} (never {@code mul(Number)} on a graph with gradients).
 */
public final class Ops {
    private Ops() {}

    /** {@code x @ w.T} with HF's [out, in] weight layout (torch.nn.functional.linear). */
    public static NDArray linear(NDArray x, NDArray w) {
        return Linear.linear(x, w).singletonOrThrow();
    }

    public static NDArray linear(NDArray x, NDArray w, NDArray b) {
        return Linear.linear(x, w, b).singletonOrThrow();
    }

    /** Rows of {@code table} picked by integer {@code ids} (any shape) → ids.shape + [D]; differentiable in table. */
    public static NDArray rows(NDArray table, NDArray ids) {
        return Embedding.embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
    }

    /**
     * RMSNorm: {@code x · (mean(x², -1) + eps)^(-1/2) · w} (Llama; no mean subtraction, no bias). The mean square
     * comes from the row's L2 norm, ‖x‖²/d: one reduction pass forward and one pass backward (the norm's gradient
     * is x·g/‖x‖), where x² and its mean cost two full-size passes each way (1.4-2 ms less per call forward +
     * backward at 2048×256). One power of the small (…, 1) term and a product, as transformers'
     * {@code torch.rsqrt}; a division by the root would cost an extra full-size product in the backward.
     *
     * <p>In FP16 the power's derivative, −½·(mean + eps)^(−3/2), overflows (3·10⁷ at a zero row), so half
     * precision keeps the mean of squares and the division by the root, whose derivative stays in range.
     *
     * @param minusHalf the scalar −0.5 (cached: a scalar made per call would enter the graph, cookbook pitfall 1)
     * @param invDim    the scalar 1/d, d = x's last dimension (cached, as minusHalf)
     */
    public static NDArray rmsNorm(NDArray x, NDArray w, NDArray eps, NDArray minusHalf, NDArray invDim) {
        DataType t = x.getDataType();
        if (t == DataType.FLOAT16 || t == DataType.BFLOAT16) {
            return x.div(x.square().mean(new int[] {-1}, true).add(eps).sqrt()).mul(w);
        }
        return rmsNormUnweighted(x, eps, minusHalf, invDim).mul(w);
    }

    /** {@code x / sqrt(mean(x²) + eps)} without the weight (float32/64), for a weight folded into what follows. */
    public static NDArray rmsNormUnweighted(NDArray x, NDArray eps, NDArray minusHalf, NDArray invDim) {
        NDArray meanSquare = x.norm(new int[] {-1}, true).square().mul(invDim).add(eps);
        return x.mul(meanSquare.pow(minusHalf));
    }

    /**
     * SiLU, x·σ(x): aten's fused SiLU for float32/64 ({@link ScriptKernels}), else composed (DJL's swish goes
     * through mul(Number): cookbook pitfall 2).
     */
    public static NDArray silu(NDArray x) {
        if (fusable(x)) {
            NDArray y = ScriptKernels.silu(x);
            if (y != null) {
                return y;
            }
        }
        return x.mul(Activation.sigmoid(x));
    }

    /** {@code silu(g) · u}, the SwiGLU product; fused as {@link #silu} is. */
    public static NDArray siluMul(NDArray g, NDArray u) {
        if (fusable(g) && u.getDataType() == g.getDataType()) {
            NDArray y = ScriptKernels.siluMul(g, u);
            if (y != null) {
                return y;
            }
        }
        return g.mul(Activation.sigmoid(g)).mul(u);
    }

    /** Fused kernels run for float32/64 (half precision keeps the composed ops: not checked on a GPU yet). */
    private static boolean fusable(NDArray x) {
        DataType t = x.getDataType();
        return ScriptKernels.enabled() && (t == DataType.FLOAT32 || t == DataType.FLOAT64);
    }

    /** SwiGLU FFN (Llama): {@code down(silu(gate(x)) * up(x))}. */
    public static NDArray swiGlu(NDArray x, NDArray gate, NDArray up, NDArray down) {
        return linear(siluMul(linear(x, gate), linear(x, up)), down);
    }

}
