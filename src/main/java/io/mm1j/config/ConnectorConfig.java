package io.mm1j.config;

import io.mm1j.Mm1Exception;

/**
 * Vision-language connector (MM1_SPEC.md §1 "VL connector"). MM1's lesson: the number of image tokens and the
 * resolution matter most; the connector type matters little. MM1 uses 144 tokens.
 *
 * @param type               which connector ({@link ConnectorType#json()} in config JSON: "avgpool", "attnpool",
 *                           "c-abstractor" or "mlp")
 * @param imageTokens        k tokens per image (a square for the pooling connectors; the patch count for "mlp")
 * @param blocksPerStage     ResNet bottleneck blocks per C-Abstractor stage (Honeybee: 3)
 * @param squeezeExcitation  C-Abstractor only: Honeybee's squeeze-and-excitation in each bottleneck (timm RegNet,
 *                           SE ratio 0.25); absent in a config = true (the default since the ablation harness; models
 *                           saved before it have no SE tensors and must say {@code false})
 * @param positionEmbedding  C-Abstractor only: Honeybee's learnable position embedding added to the patch grid before
 *                           the first stage; absent = true, as {@code squeezeExcitation}
 */
public record ConnectorConfig(ConnectorType type, int imageTokens, int blocksPerStage, Boolean squeezeExcitation,
                              Boolean positionEmbedding) {
    /** Honeybee's SE reduction: rd = round(0.25 · channels). */
    public static final double SE_RATIO = 0.25;

    public ConnectorConfig {
        if (type == null) {
            throw new Mm1Exception("connector.type must be one of " + ConnectorType.names() + ", got null");
        }
        if (imageTokens < 1) {
            throw new Mm1Exception("connector.imageTokens must be positive, got " + imageTokens);
        }
        int side = (int) Math.round(Math.sqrt(imageTokens));
        if (type.squareTokens() && side * side != imageTokens) {
            throw new Mm1Exception("connector.imageTokens must be a square for " + type + ", got " + imageTokens);
        }
        if (blocksPerStage < 0) {
            throw new Mm1Exception("connector.blocksPerStage must be >= 0, got " + blocksPerStage);
        }
        squeezeExcitation = squeezeExcitation == null || squeezeExcitation;
        positionEmbedding = positionEmbedding == null || positionEmbedding;
    }

    /** A connector with Honeybee's SE and position embedding on (they only affect the C-Abstractor). */
    public ConnectorConfig(ConnectorType type, int imageTokens, int blocksPerStage) {
        this(type, imageTokens, blocksPerStage, true, true);
    }

    /** A connector config from its JSON type name ({@code "avgpool"}, …); unknown names are a clear error. */
    public ConnectorConfig(String type, int imageTokens, int blocksPerStage) {
        this(ConnectorType.of(type), imageTokens, blocksPerStage);
    }

    /** True when the C-Abstractor's bottlenecks carry squeeze-and-excitation. */
    public boolean se() {
        return type == ConnectorType.C_ABSTRACTOR && squeezeExcitation;
    }

    /** True when the C-Abstractor adds a learned position embedding to the patch grid. */
    public boolean posEmb() {
        return type == ConnectorType.C_ABSTRACTOR && positionEmbedding;
    }

    /** SE bottleneck width for {@code channels} channels (at least 1). */
    public static long seChannels(long channels) {
        return Math.max(1, Math.round(channels * SE_RATIO));
    }

    /** This config with SE and the position embedding switched together (the pre-harness layout: both false). */
    public ConnectorConfig withHoneybeeExtras(boolean on) {
        return new ConnectorConfig(type, imageTokens, blocksPerStage, on, on);
    }
}
