package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.Resample;
import io.mm1j.tensor.WeightFiles;
import io.mm1j.nn.ShapeInit;
import java.util.Map;

/** Builds the connector a {@link ConnectorConfig} names, with random or loaded weights. */
public final class Connectors {
    private Connectors() {}

    /** Wraps connector parameters already in {@code p} (loaded or initialised). */
    public static VlConnector create(ConnectorConfig c, VisionConfig v, int llmHidden, ParamStore p) {
        return switch (c.type()) {
            case AVG_POOL -> new AvgPoolConnector(c, v, p);
            case ATTENTION_POOL -> new AttentionPoolConnector(c, v, p);
            case C_ABSTRACTOR -> new CAbstractor(c, v, p);
            case MLP -> new MlpConnector(c, v, p);
        };
    }

    /** Random initialisation (N(0, 0.02), norm gains 1, biases 0) into {@code p}. */
    public static VlConnector init(ConnectorConfig c, VisionConfig v, int llmHidden, ParamStore p) {
        ShapeInit.init(p, ConnectorParams.shapes(c, v, llmHidden), 0.02);
        return create(c, v, llmHidden, p);
    }

    /** Loads every connector tensor from {@code w} with shape checks (errors name file and tensor). */
    public static VlConnector load(WeightFiles w, ConnectorConfig c, VisionConfig v, int llmHidden, ParamStore p) {
        boolean oldLayout = (c.posEmb() && !w.contains(CAbstractor.POS_EMB))
                || (c.se() && c.blocksPerStage() > 0 && !w.contains(CAbstractor.block(1, 0) + "se.fc1.weight"));
        if (oldLayout) {
            throw new io.mm1j.Mm1Exception("the C-Abstractor weights have no squeeze-and-excitation / position "
                    + "embedding tensors ('" + CAbstractor.POS_EMB + "', '" + CAbstractor.block(1, 0)
                    + "se.fc1.weight'): a model saved before they became the default; add \"squeezeExcitation\": "
                    + "false, \"positionEmbedding\": false to the \"connector\" of its config.json to load it");
        }
        for (Map.Entry<String, Shape> e : ConnectorParams.shapes(c, v, llmHidden).entrySet()) {
            p.put(e.getKey(), w.load(p.manager(), e.getKey(), e.getValue()));
        }
        return create(c, v, llmHidden, p);
    }

    /**
     * The connector config for the encoder grid {@code to}: the mlp connector's k is the patch count, so it follows
     * the grid (its weights act per token); the pooling connectors keep k.
     */
    public static ConnectorConfig forGrid(ConnectorConfig c, VisionConfig to) {
        return c.type() == io.mm1j.config.ConnectorType.MLP
                ? new ConnectorConfig(c.type(), to.numPatches(), c.blocksPerStage(), c.squeezeExcitation(),
                        c.positionEmbedding())
                : c;
    }

    /**
     * Moves the connector parameters tied to the encoder's patch grid from the grid of {@code from} to that of
     * {@code to} (the encoder's resolution changed, MM1's high-resolution SFT): the C-Abstractor's learned position
     * embedding is resized with torch's bicubic, as the encoder's own position embeddings are
     * ({@link io.mm1j.vision.VisionTransformer#positions}); no other connector has grid-shaped parameters. Then
     * wraps the parameters for the new grid.
     */
    public static VlConnector regrid(ConnectorConfig c, VisionConfig from, VisionConfig to, int llmHidden,
                                     ParamStore p) {
        int g = from.gridSize();
        int h = to.gridSize();
        if (c.posEmb() && g != h) {
            NDArray pos = p.get(CAbstractor.POS_EMB); // (1, g·g, C)
            long ch = pos.getShape().get(2);
            try (NDScope scope = new NDScope()) {
                NDArray w = Resample.matrix(p.manager(), Resample.torchBicubic(g, h), h, g, pos.getDataType()); // (h, g)
                NDArray grid = pos.reshape(g, g, ch).transpose(2, 0, 1); // (C, g, g)
                NDArray resized = Resample.apply(grid, w, w).transpose(1, 2, 0) // (h, h, C)
                        .reshape(1, (long) h * h, ch); // (1, h·h, C), a permuted view
                // a dense copy: clone() keeps a permuted view's strides, and the optimizer's reductions over such a
                // parameter round differently from those over the dense tensor a resumed run loads (resume was off
                // by 1e-9 from the step after it)
                NDArray copy = p.manager().create(resized.toType(DataType.FLOAT32, false).toFloatArray(),
                        resized.getShape()).toType(pos.getDataType(), false);
                NDScope.unregister(copy);
                p.put(CAbstractor.POS_EMB, copy);
                scope.suppressNotUsedWarning();
            }
        }
        return create(forGrid(c, to), to, llmHidden, p);
    }
}
