package io.mm1j.config;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Parameter counts from a config alone (nothing allocated), so that {@code mm1 info --preset mm1-30b} works on a
 * laptop. The counts are exactly the tensors the model classes create; a unit test pins this against a
 * materialised tiny model.
 *
 * <p>"Non-embedding" follows the scaling-law convention MM1's LR law uses: everything except the token embedding
 * and an untied LM head.
 */
public final class ParamCount {
    private ParamCount() {}

    /** Counts for a decoder: total, embedding, nonEmbedding, active (MoE: top-k experts per MoE layer). */
    public record Llm(long total, long embedding, long nonEmbedding, long active) {}

    public static Llm llm(LlmConfig c) {
        long d = c.hiddenSize();
        long qDim = (long) c.numHeads() * c.headDim();
        long kvDim = (long) c.numKvHeads() * c.headDim();
        long attention = d * qDim + 2 * d * kvDim + qDim * d;
        long norms = 2 * d;
        long denseFfn = 3 * d * c.intermediateSize();
        long total = 0;
        long active = 0;
        for (int i = 0; i < c.numLayers(); i++) {
            long block = attention + norms;
            total += block;
            active += block;
            if (c.isMoeLayer(i)) {
                long expert = 3 * d * c.expertIntermediate();
                long router = d * c.moe().numExperts();
                total += router + expert * c.moe().numExperts();
                active += router + expert * c.moe().topK();
            } else {
                total += denseFfn;
                active += denseFfn;
            }
        }
        total += d; // final norm
        active += d;
        long embedding = (long) c.vocabSize() * d * (c.tieEmbeddings() ? 1 : 2);
        return new Llm(total + embedding, embedding, total, active + embedding);
    }

    /**
     * CLIP ViT (HF CLIPVisionModel layout): patch conv (no bias), class embedding, position embeddings,
     * pre-LayerNorm, per block LN1 + q/k/v/o with bias + LN2 + fc1/fc2 with bias, post-LayerNorm.
     */
    public static long vision(VisionConfig v) {
        long w = v.width();
        long patch = 3L * v.patchSize() * v.patchSize() * w;
        long pos = (v.numPatches() + 1L) * w;
        long block = 2 * w + 4 * (w * w + w) + 2 * w + (w * v.mlpDim() + v.mlpDim()) + (v.mlpDim() * w + w);
        return patch + w + pos + 2 * w + v.layers() * block + 2 * w;
    }

    /**
     * Vision-language connector, by type (the tensors of {@code connector/}'s shape maps; a test pins the two
     * against each other and against materialised connectors). Counted here from the configs alone so that
     * {@code config} does not depend on the model classes.
     */
    public static long connector(ConnectorConfig c, VisionConfig v, int llmHidden) {
        long dv = v.width();
        long d = llmHidden;
        long projection = d * dv + d; // dv → LLM width, with bias
        long mlp = projection + d * d + d; // fc1 (dv → D) + fc2 (D → D), with biases
        return switch (c.type()) {
            case AVG_POOL -> projection;
            case ATTENTION_POOL -> c.imageTokens() * dv + 2 * dv + 4 * (dv * dv + dv) + projection;
            // per bottleneck: two 1×1 convs without bias, a depthwise 3×3, three LayerNorms; with SE two 1×1 convs
            // with bias (dv → rd → dv); with the position embedding one (P, dv) table
            case C_ABSTRACTOR -> 2L * c.blocksPerStage() * (2 * dv * dv + 9 * dv + 3 * 2 * dv
                    + (c.se() ? 2 * dv * ConnectorConfig.seChannels(dv) + ConnectorConfig.seChannels(dv) + dv : 0))
                    + (c.posEmb() ? (long) v.numPatches() * dv : 0) + mlp;
            case MLP -> mlp;
        };
    }

    /** Per-component and total counts as a flat map for {@code mm1 info}. */
    public static Map<String, Long> all(Mm1Config cfg) {
        Map<String, Long> out = new LinkedHashMap<>();
        Llm l = llm(cfg.llm());
        long vision = cfg.vision() == null ? 0 : vision(cfg.vision());
        long connector = cfg.connector() == null ? 0
                : connector(cfg.connector(), cfg.vision(), cfg.llm().hiddenSize());
        out.put("total", l.total() + vision + connector);
        out.put("llm", l.total());
        out.put("embedding", l.embedding());
        out.put("nonEmbedding", l.nonEmbedding());
        out.put("active", l.active() + vision + connector);
        if (cfg.vision() != null) {
            out.put("vision", vision);
            out.put("connector", connector);
        }
        return out;
    }

    /**
     * Training FLOPs per token of the LLM (forward + backward, PaLM appendix B): 6·N_matmul + 12·L·T·d_attn, with
     * N_matmul the active parameters that take part in matmuls (all non-embedding weights plus the LM head) and
     * T the sequence length.
     */
    public static double trainFlopsPerToken(LlmConfig c, int seq) {
        Llm pc = llm(c);
        long matmulParams = (pc.active() - pc.embedding()) + (long) c.vocabSize() * c.hiddenSize();
        return 6.0 * matmulParams + 12.0 * c.numLayers() * seq * c.numHeads() * c.headDim();
    }
}
