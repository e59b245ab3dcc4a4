package io.mm1j.config;

import com.fasterxml.jackson.annotation.JsonIgnore;
import io.mm1j.Mm1Exception;

/**
 * CLIP-style ViT image encoder (MM1_SPEC.md §1 "Image encoder"): conv patch embedding, CLS token, learned absolute
 * position embeddings, pre-LN blocks, GELU or quick-GELU MLP.
 *
 * @param imageSize     input resolution in pixels (square; ablations 336, final 378)
 * @param patchSize     patch side in pixels (14 for ViT-L/14 and ViT-H/14)
 * @param width         token width
 * @param layers        transformer blocks
 * @param heads         attention heads
 * @param mlpDim        MLP hidden width
 * @param activation    "gelu" or "quick_gelu" (OpenAI CLIP)
 * @param layerNormEps  LayerNorm epsilon
 * @param featureLayer  which block's output feeds the connector (-1 = last, as MM1)
 */
public record VisionConfig(int imageSize, int patchSize, int width, int layers, int heads, int mlpDim,
                           String activation, double layerNormEps, int featureLayer) {
    /** Largest encoder resolution: 4096 px, ~3× MM1's largest (1344 px, reached by tiling 378 px crops). */
    public static final int MAX_IMAGE_SIZE = 4096;

    /** Largest patch grid side: 256 (65,536 patches; attention over them is already ~4 G scores per head). */
    public static final int MAX_GRID_SIZE = 256;

    public VisionConfig {
        if (imageSize < 1 || patchSize < 1 || imageSize % patchSize != 0) {
            throw new Mm1Exception("vision.imageSize (" + imageSize + ") must be a positive multiple of patchSize ("
                    + patchSize + ")");
        }
        if (imageSize > MAX_IMAGE_SIZE) {
            throw new Mm1Exception("vision.imageSize " + imageSize + " is above the limit of " + MAX_IMAGE_SIZE
                    + " px");
        }
        if (imageSize / patchSize > MAX_GRID_SIZE) {
            throw new Mm1Exception("vision: imageSize / patchSize = " + imageSize / patchSize + " patches per side, "
                    + "above the limit of " + MAX_GRID_SIZE);
        }
        if (width < 1 || layers < 1 || heads < 1 || width % heads != 0 || mlpDim < 1) {
            throw new Mm1Exception("vision: width must be a positive multiple of heads; layers and mlpDim positive");
        }
        if (!"gelu".equals(activation) && !"quick_gelu".equals(activation)) {
            throw new Mm1Exception("vision.activation must be gelu or quick_gelu, got " + activation);
        }
        if (featureLayer < -layers || featureLayer >= layers) {
            throw new Mm1Exception("vision.featureLayer must be within [-layers, layers), got " + featureLayer);
        }
    }

    /**
     * A builder with CLIP's defaults for everything but the six sizes: exact GELU, LayerNorm eps 1e-5, patch tokens
     * from the last block.
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Named setters for {@link VisionConfig}; {@link #build} applies the record's validation. */
    public static final class Builder {
        private int imageSize;
        private int patchSize;
        private int width;
        private int layers;
        private int heads;
        private int mlpDim;
        private String activation = "gelu";
        private double layerNormEps = 1e-5;
        private int featureLayer = -1;

        private Builder() {}

        public Builder imageSize(int v) {
            imageSize = v;
            return this;
        }

        public Builder patchSize(int v) {
            patchSize = v;
            return this;
        }

        public Builder width(int v) {
            width = v;
            return this;
        }

        public Builder layers(int v) {
            layers = v;
            return this;
        }

        public Builder heads(int v) {
            heads = v;
            return this;
        }

        public Builder mlpDim(int v) {
            mlpDim = v;
            return this;
        }

        /** "gelu" (HF, DFN) or "quick_gelu" (OpenAI CLIP). */
        public Builder activation(String v) {
            activation = v;
            return this;
        }

        public Builder layerNormEps(double v) {
            layerNormEps = v;
            return this;
        }

        /** Which block's output feeds the connector: -1 the last (MM1), -2 the one before (LLaVA). */
        public Builder featureLayer(int v) {
            featureLayer = v;
            return this;
        }

        public VisionConfig build() {
            return new VisionConfig(imageSize, patchSize, width, layers, heads, mlpDim, activation, layerNormEps,
                    featureLayer);
        }
    }

    @JsonIgnore
    public int gridSize() {
        return imageSize / patchSize;
    }

    @JsonIgnore
    public int numPatches() {
        return gridSize() * gridSize();
    }
}
