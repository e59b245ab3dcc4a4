package io.mm1j.connector;

import ai.djl.ndarray.types.Shape;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.ShapeInit;
import java.util.Map;

/**
 * Connector tensors and forward FLOPs from configs alone (nothing allocated), for initialisation, loading and the
 * vision benchmark. The name → shape maps are the ones the connectors initialise and load from; the parameter
 * count for {@code mm1 info} is {@link io.mm1j.config.ParamCount#connector}, pinned to these maps by a test.
 */
public final class ConnectorParams {
    private ConnectorParams() {}

    /** Every tensor of the configured connector, name → shape. */
    public static Map<String, Shape> shapes(ConnectorConfig c, VisionConfig v, int llmHidden) {
        return switch (c.type()) {
            case AVG_POOL -> AvgPoolConnector.shapes(v, llmHidden);
            case ATTENTION_POOL -> AttentionPoolConnector.shapes(c, v, llmHidden);
            case C_ABSTRACTOR -> CAbstractor.shapes(c, v, llmHidden);
            case MLP -> MlpConnector.shapes(v, llmHidden);
        };
    }

    /**
     * Multiply-add FLOPs (2 per MAC) of one image's connector forward from {@code patches} patch tokens; matmuls
     * and convolutions only (norms and activations are noise at these widths).
     */
    public static double flopsPerImage(ConnectorConfig c, VisionConfig v, int llmHidden, int patches) {
        double dv = v.width();
        double d = llmHidden;
        double k = c.imageTokens();
        return switch (c.type()) {
            case AVG_POOL -> 2 * (k * dv * d + dv * patches * Math.sqrt(k) * 2);
            case ATTENTION_POOL -> 2 * (2 * k * dv * dv + 2 * patches * dv * dv + 2 * k * patches * dv + k * dv * d);
            case C_ABSTRACTOR -> 2 * (c.blocksPerStage() * (patches + k) * (2 * dv * dv + 9 * dv)
                    + k * (dv * d + d * d));
            case MLP -> 2 * patches * (dv * d + d * d);
        };
    }
}
