package io.mm1j.connector;

import ai.djl.ndarray.types.Shape;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.ParamStore;
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
}
