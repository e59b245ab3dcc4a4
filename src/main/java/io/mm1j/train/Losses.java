package io.mm1j.train;

import ai.djl.ndarray.NDArray;

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
}
