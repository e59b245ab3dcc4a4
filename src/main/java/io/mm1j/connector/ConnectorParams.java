package io.mm1j.connector;

import ai.djl.ndarray.types.Shape;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.ShapeInit;
import java.util.Map;

/**
 * Connector tensors, parameter counts and forward FLOPs from configs alone (nothing allocated), for
 * {@code mm1 info} ({@code params.connector}) and the vision benchmark. The name → shape maps are the same ones the
 * connectors initialise and load from, so the count is exact by construction (and pinned by a test).
 */
public final class ConnectorParams {
    private ConnectorParams() {}

    /** Every tensor of the configured connector, name → shape. */
    public static Map<String, Shape> shapes(ConnectorConfig c, VisionConfig v, int llmHidden) {
        return switch (c.type()) {
            case "avgpool" -> AvgPoolConnector.shapes(v, llmHidden);
            case "attnpool" -> AttentionPoolConnector.shapes(c, v, llmHidden);
            case "c-abstractor" -> CAbstractor.shapes(c, v, llmHidden);
            case "mlp" -> MlpConnector.shapes(v, llmHidden);
            default -> throw new IllegalStateException(c.type()); // ConnectorConfig validates the type
        };
    }

    public static long count(ConnectorConfig c, VisionConfig v, int llmHidden) {
        return ShapeInit.numel(shapes(c, v, llmHidden));
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
            case "avgpool" -> 2 * (k * dv * d + dv * patches * Math.sqrt(k) * 2);
            case "attnpool" -> 2 * (2 * k * dv * dv + 2 * patches * dv * dv + 2 * k * patches * dv + k * dv * d);
            case "c-abstractor" -> 2 * (c.blocksPerStage() * (patches + k) * (2 * dv * dv + 9 * dv)
                    + k * (dv * d + d * d));
            case "mlp" -> 2 * patches * (dv * d + d * d);
            default -> throw new IllegalStateException(c.type());
        };
    }
}
