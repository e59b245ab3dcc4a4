package io.mm1j.train;

/**
 * MM1's peak learning-rate law (MM1 §3.3 / MM1_SPEC.md §2): a log-space linear fit of the best peak LR against
 * the non-embedding parameter count N at 9M, 85M, 302M and 1.2B, {@code η = exp(−0.4214·ln N − 0.5535)}, with
 * weight decay {@code λ = 0.1·η}.
 */
public record LrLaw(double slope, double intercept) {
    /** The paper's fitted law. */
    public static final LrLaw MM1 = new LrLaw(-0.4214, -0.5535);

    public double peakLr(double nonEmbeddingParams) {
        if (!(nonEmbeddingParams > 0)) {
            throw new IllegalArgumentException("parameter count must be > 0, got " + nonEmbeddingParams);
        }
        return Math.exp(slope * Math.log(nonEmbeddingParams) + intercept);
    }

    /** MM1's λ = 0.1·η: the decoupled per-step decay at peak (not multiplied by the learning rate again). */
    public double weightDecay(double nonEmbeddingParams) {
        return 0.1 * peakLr(nonEmbeddingParams);
    }

    /**
     * The same decay as a PyTorch-style AdamW {@code weight_decay} (applied as {@code p·(1 − lr·wd)}, which mm1j's
     * {@link AdamW} uses): λ/η = 0.1 whatever the model size.
     */
    public double torchWeightDecay(double nonEmbeddingParams) {
        return weightDecay(nonEmbeddingParams) / peakLr(nonEmbeddingParams);
    }
}
