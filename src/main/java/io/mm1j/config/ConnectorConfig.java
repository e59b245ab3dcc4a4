package io.mm1j.config;

import io.mm1j.Mm1Exception;

/**
 * Vision-language connector (MM1_SPEC.md §1 "VL connector"). MM1's lesson: the number of image tokens and the
 * resolution matter most; the connector type matters little. MM1 uses 144 tokens.
 *
 * @param type           which connector ({@link ConnectorType#json()} in config JSON: "avgpool", "attnpool",
 *                       "c-abstractor" or "mlp")
 * @param imageTokens    k tokens per image (a square for the pooling connectors; the patch count for "mlp")
 * @param blocksPerStage ResNet bottleneck blocks per C-Abstractor stage (Honeybee: 3)
 */
public record ConnectorConfig(ConnectorType type, int imageTokens, int blocksPerStage) {
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
    }

    /** A connector config from its JSON type name ({@code "avgpool"}, …); unknown names are a clear error. */
    public ConnectorConfig(String type, int imageTokens, int blocksPerStage) {
        this(ConnectorType.of(type), imageTokens, blocksPerStage);
    }
}
