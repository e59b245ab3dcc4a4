package io.mm1j.config;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.mm1j.Mm1Exception;

/**
 * Decoder LLM shape (Llama architecture: pre-RMSNorm, RoPE, SwiGLU, GQA; MM1_SPEC.md §1 "Decoder LLM").
 * HF {@code config.json} names are mapped only in {@code HfLlama}; this record is mm1j's own vocabulary.
 *
 * @param vocabSize        tokenizer vocabulary size (rows of the embedding)
 * @param hiddenSize       model width D
 * @param intermediateSize SwiGLU hidden width F of the dense FFN
 * @param numLayers        decoder blocks
 * @param numHeads         query heads H
 * @param numKvHeads       key/value heads (GQA when &lt; H; H must be a multiple)
 * @param headDim          per-head width (usually D / H)
 * @param maxPositions     longest sequence the KV cache and RoPE table are built for
 * @param rmsNormEps       RMSNorm epsilon
 * @param ropeTheta        RoPE base θ (Llama: 10000)
 * @param tieEmbeddings    LM head shares the token embedding matrix
 * @param bosTokenId       beginning-of-sequence id
 * @param eosTokenId       end-of-sequence id
 * @param moe              mixture-of-experts settings, or null for a dense decoder
 * @param extraEosTokenIds further ids that end a turn (HF configs may list several EOS ids, e.g. Llama-3's
 *                         {@code <|eot_id|>}); empty for most models
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LlmConfig(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                        int numKvHeads, int headDim, int maxPositions, double rmsNormEps, double ropeTheta,
                        boolean tieEmbeddings, int bosTokenId, int eosTokenId, MoeConfig moe,
                        @JsonInclude(JsonInclude.Include.NON_EMPTY) java.util.List<Integer> extraEosTokenIds) {
    /** Longest context accepted: 2^20 positions (the 1M-token models); RoPE tables and KV caches scale with it. */
    public static final int MAX_POSITIONS = 1 << 20;

    public LlmConfig {
        extraEosTokenIds = extraEosTokenIds == null ? java.util.List.of() : java.util.List.copyOf(extraEosTokenIds);
        for (int id : extraEosTokenIds) {
            if (id < 0 || id >= vocabSize) {
                throw new Mm1Exception("llm.extraEosTokenIds: " + id + " is outside [0, vocabSize=" + vocabSize + ")");
            }
        }
        if (vocabSize < 2 || hiddenSize < 1 || intermediateSize < 1 || numLayers < 1 || numHeads < 1) {
            throw new Mm1Exception("llm: vocabSize, hiddenSize, intermediateSize, numLayers and numHeads must be "
                    + "positive");
        }
        if (numKvHeads < 1 || numHeads % numKvHeads != 0) {
            throw new Mm1Exception("llm.numKvHeads (" + numKvHeads + ") must divide numHeads (" + numHeads + ")");
        }
        if (headDim < 2 || headDim % 2 != 0) {
            throw new Mm1Exception("llm.headDim must be even and >= 2 for RoPE, got " + headDim);
        }
        if (maxPositions < 1 || maxPositions > MAX_POSITIONS) {
            throw new Mm1Exception("llm.maxPositions must be within [1, " + MAX_POSITIONS + "], got " + maxPositions);
        }
        if ((long) maxPositions * headDim / 2 > Integer.MAX_VALUE - 8) { // the RoPE cos/sin tables are built whole
            throw new Mm1Exception("llm: maxPositions × headDim / 2 = " + (long) maxPositions * headDim / 2
                    + " RoPE table entries do not fit one array");
        }
        if (!(rmsNormEps > 0) || !(ropeTheta > 0)) {
            throw new Mm1Exception("llm.rmsNormEps and llm.ropeTheta must be > 0");
        }
        if (bosTokenId < 0 || bosTokenId >= vocabSize || eosTokenId < 0 || eosTokenId >= vocabSize) {
            throw new Mm1Exception("llm.bosTokenId/eosTokenId must be within [0, vocabSize=" + vocabSize + ")");
        }
    }

    /** A Llama-style dense config: head dim D/H, θ = 10000, eps 1e-5, BOS 1, EOS 2. */
    public static LlmConfig llama(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads,
                                  int maxPositions, boolean tied) {
        return builder().vocabSize(vocab).hiddenSize(hidden).intermediateSize(intermediate).numLayers(layers)
                .numHeads(heads).numKvHeads(kvHeads).maxPositions(maxPositions).tieEmbeddings(tied).build();
    }

    /**
     * A builder with Llama defaults for everything but the five sizes (vocabulary, width, FFN width, layers,
     * heads): KV heads = heads, head dim = width / heads, 2048 positions, eps 1e-5, θ = 10000, untied, BOS 1,
     * EOS 2, dense.
     */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values (to change a few of them by name). */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.vocabSize = vocabSize;
        b.hiddenSize = hiddenSize;
        b.intermediateSize = intermediateSize;
        b.numLayers = numLayers;
        b.numHeads = numHeads;
        b.numKvHeads = numKvHeads;
        b.headDim = headDim;
        b.maxPositions = maxPositions;
        b.rmsNormEps = rmsNormEps;
        b.ropeTheta = ropeTheta;
        b.tieEmbeddings = tieEmbeddings;
        b.bosTokenId = bosTokenId;
        b.eosTokenId = eosTokenId;
        b.moe = moe;
        b.extraEosTokenIds = extraEosTokenIds;
        return b;
    }

    public LlmConfig withMoe(MoeConfig m) {
        return toBuilder().moe(m).build();
    }

    public LlmConfig withVocab(int vocab) {
        return toBuilder().vocabSize(vocab).build();
    }

    /** Named setters for {@link LlmConfig}; {@link #build} applies the record's validation. */
    public static final class Builder {
        private int vocabSize;
        private int hiddenSize;
        private int intermediateSize;
        private int numLayers;
        private int numHeads;
        private Integer numKvHeads; // unset: same as numHeads (multi-head attention)
        private Integer headDim; // unset: hiddenSize / numHeads
        private int maxPositions = 2048;
        private double rmsNormEps = 1e-5;
        private double ropeTheta = 10000.0;
        private boolean tieEmbeddings;
        private int bosTokenId = 1;
        private int eosTokenId = 2;
        private MoeConfig moe;
        private java.util.List<Integer> extraEosTokenIds = java.util.List.of();

        private Builder() {}

        public Builder vocabSize(int v) {
            vocabSize = v;
            return this;
        }

        public Builder hiddenSize(int v) {
            hiddenSize = v;
            return this;
        }

        public Builder intermediateSize(int v) {
            intermediateSize = v;
            return this;
        }

        public Builder numLayers(int v) {
            numLayers = v;
            return this;
        }

        public Builder numHeads(int v) {
            numHeads = v;
            return this;
        }

        public Builder numKvHeads(int v) {
            numKvHeads = v;
            return this;
        }

        public Builder headDim(int v) {
            headDim = v;
            return this;
        }

        public Builder maxPositions(int v) {
            maxPositions = v;
            return this;
        }

        public Builder rmsNormEps(double v) {
            rmsNormEps = v;
            return this;
        }

        public Builder ropeTheta(double v) {
            ropeTheta = v;
            return this;
        }

        public Builder tieEmbeddings(boolean v) {
            tieEmbeddings = v;
            return this;
        }

        public Builder bosTokenId(int v) {
            bosTokenId = v;
            return this;
        }

        public Builder eosTokenId(int v) {
            eosTokenId = v;
            return this;
        }

        public Builder moe(MoeConfig v) {
            moe = v;
            return this;
        }

        public Builder extraEosTokenIds(java.util.List<Integer> v) {
            extraEosTokenIds = v;
            return this;
        }

        public LlmConfig build() {
            int dim;
            if (headDim != null) {
                dim = headDim;
            } else if (numHeads > 0 && hiddenSize % numHeads != 0) {
                throw new Mm1Exception("llm.hiddenSize (" + hiddenSize + ") must be a multiple of numHeads ("
                        + numHeads + ")");
            } else {
                dim = numHeads > 0 ? hiddenSize / numHeads : 0; // 0 heads: the record names the error
            }
            return new LlmConfig(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads,
                    numKvHeads == null ? numHeads : numKvHeads, dim, maxPositions, rmsNormEps, ropeTheta,
                    tieEmbeddings, bosTokenId, eosTokenId, moe, extraEosTokenIds);
        }
    }

    /**
     * Ids that end free generation: EOS, and BOS, which delimits documents in llama2.c-style training (run.c
     * stops on it). A set even when both ids are equal (some checkpoints use one id for both).
     */
    @JsonIgnore
    public java.util.Set<Integer> stopIds() {
        java.util.Set<Integer> s = new java.util.HashSet<>();
        s.add(eosTokenId);
        s.add(bosTokenId);
        s.addAll(extraEosTokenIds);
        return java.util.Collections.unmodifiableSet(s);
    }

    @JsonIgnore
    public int kvGroups() {
        return numHeads / numKvHeads;
    }

    @JsonIgnore
    public boolean isMoeLayer(int layer) {
        return moe != null && moe.isMoeLayer(layer);
    }

    @JsonIgnore
    public int expertIntermediate() {
        return moe == null || moe.expertIntermediate() == 0 ? intermediateSize : moe.expertIntermediate();
    }
}
