package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.llm.Decoder;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ScriptKernels;

/** Token-level losses. */
public final class Losses {
    private Losses() {}

    /**
     * Mean cross-entropy over positions where {@code mask} is 1 (MM1: no loss on image slots or padding).
     *
     * @param logits  (B, T, V)
     * @param targets (B, T) int64 next-token ids
     * @param mask    (B, T) float, 1 = counts, 0 = ignored; or null for all positions
     * @return scalar
     */
    public static NDArray crossEntropy(NDArray logits, NDArray targets, NDArray mask) {
        NDArray logp = logits.logSoftmax(-1);
        NDArray picked = logp.gather(targets.expandDims(-1), -1).squeeze(-1); // (B, T)
        if (mask == null) {
            return picked.mean().neg();
        }
        NDArray m = mask.toType(logits.getDataType(), false);
        // an all-zero mask gives 0 (no tokens to learn from), not 0/0 = NaN; the mask carries no gradient
        return picked.mul(m).sum().div(m.sum().maximum(1)).neg();
    }

    /**
     * A training step's token cross-entropy.
     *
     * @param nll       −log p(target) at every position, same shape as the targets, not recorded (the loss to
     *                  report: mask and average it)
     * @param objective a recorded scalar whose gradient is that of {@code scale · Σ mask · nll}; its value is not the
     *                  loss (backward through it, possibly plus other recorded terms)
     */
    public record TokenLoss(NDArray nll, NDArray objective) {
        /** {@link #nll} weighted by {@code mask} (in the NLL's dtype), or {@link #nll} itself for a null mask. */
        public NDArray masked(NDArray mask) {
            return mask == null ? nll : nll.mul(mask.toType(nll.getDataType(), false));
        }
    }

    /**
     * The denominator of a mean token loss: the positions where {@code mask} is 1, at least 1 (an all-zero mask
     * gives a loss of 0, not 0/0), or every position of {@code targets} for a null mask.
     */
    public static double tokenCount(NDArray targets, NDArray mask) {
        return mask == null ? targets.getShape().size()
                : Math.max(1, mask.toType(DataType.FLOAT64, false).sum().getDouble());
    }

    /**
     * The cross-entropy of {@code logits} (…, V) against {@code targets} (…) for a training step, weighted by a 0/1
     * {@code mask} (or null: every position) and {@code scale}. With the fused kernel ({@link
     * ScriptKernels#crossEntropyGradient}) the softmax runs once and its gradient {@code softmax − onehot} is formed
     * outside autograd; the objective is {@code scale · ⟨logits, g⟩}, whose gradient is exactly {@code scale · g}
     * (masked rows of g zeroed). This replaces log-softmax's recorded backward and the gather's zero-filled
     * gradient; on {@code mini} the step time is within the host's noise either way (±2%), the memory is what
     * {@link #headLoss} saves. Without the kernel, or for a mask with values other than 0 and 1, or half-precision
     * logits, the composed form.
     */
    public static TokenLoss tokenLoss(NDArray logits, NDArray targets, NDArray mask, double scale) {
        DataType dt = logits.getDataType();
        long[] drop = dropped(mask);
        if (drop != null && fusable(dt)) {
            long v = logits.getShape().get(logits.getShape().dimension() - 1);
            NDList r = ScriptKernels.crossEntropyGradient(logits.stopGradient().reshape(-1, v),
                    targets.reshape(-1, 1), logits.getManager().create(drop));
            if (r != null) {
                NDArray nll = r.get(0).reshape(targets.getShape());
                NDArray objective = logits.reshape(-1).dot(r.get(1).reshape(-1)).mul(scalar(logits, scale));
                return new TokenLoss(nll, objective);
            }
        }
        NDArray nll = logits.logSoftmax(-1).gather(targets.expandDims(-1), -1).squeeze(-1).neg();
        NDArray weighted = mask == null ? nll : nll.mul(mask.toType(dt, false));
        return new TokenLoss(nll.stopGradient(), weighted.sum().mul(scalar(logits, scale)));
    }

    /**
     * The same loss on {@code decoder}'s LM head applied to the last layer's output {@code h} (B, T, D): the final
     * norm is recorded, the head's product is not. With the fused kernel the logits are formed outside autograd,
     * their gradient {@code g = softmax − onehot} taken at once, and the head's two backward products done here:
     * {@code g·W} for its input n and {@code gᵀ·n} for its weight W; the objective is
     * {@code scale · (⟨n, g·W⟩ + ⟨W, gᵀ·n⟩)}, whose gradients are exactly those. Autograd then never holds the
     * (B, T, V) logits or their gradient, and the pass that scaled the logits' gradient is gone (one (B·T·V) pass of
     * a step): on {@code mini} (8 × 256 tokens, vocabulary 4,096) a step's activations 359 → 269–283 MB. Other cases
     * (half precision: the logits promoted to float32) go through {@link #tokenLoss}.
     */
    public static TokenLoss headLoss(Decoder decoder, NDArray h, NDArray targets, NDArray mask, double scale) {
        NDArray n = decoder.headInput(h); // (B, T, D), recorded
        NDArray w = decoder.headWeight(); // (V, D)
        long[] drop = dropped(mask);
        // (asked first: without the kernel the detached logits below would be a head product thrown away)
        if (drop != null && fusable(n.getDataType()) && w.getDataType() == n.getDataType()
                && ScriptKernels.crossEntropyAvailable()) {
            NDArray nd = n.stopGradient().reshape(-1, n.getShape().get(n.getShape().dimension() - 1)); // (N, D)
            NDArray wd = w.stopGradient();
            NDArray logits = Ops.linear(nd, wd); // (N, V), not recorded: its inputs are detached
            NDList r = ScriptKernels.crossEntropyGradient(logits, targets.reshape(-1, 1),
                    logits.getManager().create(drop));
            if (r != null) {
                logits.close();
                NDArray g = r.get(1); // (N, V)
                NDArray objective = n.reshape(-1).dot(g.matMul(wd).reshape(-1)); // ⟨n, g·W⟩
                // a frozen head (LoRA, train.freeze) needs no weight gradient; hasGradient() is exact for the
                // parameter itself (a leaf) and would be false for any derived tensor, so W must stay a parameter
                if (w.hasGradient()) {
                    objective = objective.add(w.reshape(-1).dot(g.transpose().matMul(nd).reshape(-1))); // ⟨W, gᵀ·n⟩
                }
                g.close();
                return new TokenLoss(r.get(0).reshape(targets.getShape()), objective.mul(scalar(n, scale)));
            }
            logits.close();
        }
        NDArray logits = Ops.linear(n, w);
        DataType t = logits.getDataType();
        if (t == DataType.BFLOAT16 || t == DataType.FLOAT16) { // promoted (adding a (1)-shaped float32 zero keeps
            logits = logits.add(logits.getManager().zeros(new Shape(1), DataType.FLOAT32)); // the gradient flowing)
        }
        return tokenLoss(logits, targets, mask, scale);
    }

    /** The flat positions where a 0/1 mask is 0 (none for a null mask), or null when the mask holds other values. */
    private static long[] dropped(NDArray mask) {
        if (mask == null) {
            return new long[0];
        }
        float[] m = mask.toType(DataType.FLOAT32, false).toFloatArray();
        int count = 0;
        for (float f : m) {
            if (f != 0 && f != 1) {
                return null;
            }
            count += f == 0 ? 1 : 0;
        }
        long[] drop = new long[count];
        for (int i = 0, k = 0; k < count; i++) {
            if (m[i] == 0) {
                drop[k++] = i;
            }
        }
        return drop;
    }

    private static boolean fusable(DataType t) {
        return t == DataType.FLOAT32 || t == DataType.FLOAT64;
    }

    /** {@code value} as a 0-d array of x's dtype (made from a Java scalar, not recorded: cookbook pitfall 1). */
    private static NDArray scalar(NDArray x, double value) {
        return x.getManager().create(value).toType(x.getDataType(), false);
    }
}
