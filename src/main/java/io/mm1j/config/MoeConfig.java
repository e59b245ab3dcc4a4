package io.mm1j.config;

import io.mm1j.Mm1Exception;

/**
 * Mixture-of-experts feed-forward settings (MM1 §3.3; MM1_SPEC.md §1).
 *
 * @param numExperts          experts per MoE layer (MM1-3B-MoE: 64, MM1-7B-MoE: 32)
 * @param topK                experts each token is routed to; MM1 uses top-2 gating
 * @param every               every k-th FFN layer is an MoE layer (3B-MoE: 2, 7B-MoE: 4); layer i (0-based) is MoE
 *                            when {@code (i + 1) % every == 0}
 * @param expertIntermediate  hidden width of one expert; 0 means "same as the dense FFN" (upcycling-compatible)
 * @param balanceCoef         load-balancing loss coefficient (MM1: 0.01)
 * @param zLossCoef           router z-loss coefficient (MM1: 0.001)
 * @param capacityFactor      0 = no token dropping (the CPU default: every token reaches its top-k experts);
 *                            otherwise each expert takes at most ceil(cf · tokens · k / experts) tokens
 */
public record MoeConfig(int numExperts, int topK, int every, int expertIntermediate, double balanceCoef,
                        double zLossCoef, double capacityFactor) {
    public MoeConfig {
        if (numExperts < 2) {
            throw new Mm1Exception("moe.numExperts must be >= 2, got " + numExperts);
        }
        if (topK < 1 || topK > numExperts) {
            throw new Mm1Exception("moe.topK must be within [1, numExperts=" + numExperts + "], got " + topK);
        }
        if (every < 1) {
            throw new Mm1Exception("moe.every must be >= 1, got " + every);
        }
        if (expertIntermediate < 0 || balanceCoef < 0 || zLossCoef < 0 || capacityFactor < 0) {
            throw new Mm1Exception("moe.expertIntermediate, balanceCoef, zLossCoef and capacityFactor must be >= 0");
        }
    }

    /** MM1's routing hyper-parameters with the given expert count and layer spacing. */
    public static MoeConfig mm1(int numExperts, int every) {
        return new MoeConfig(numExperts, 2, every, 0, 0.01, 0.001, 0);
    }

    public boolean isMoeLayer(int layer) {
        return (layer + 1) % every == 0;
    }
}
