package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.Resample;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Average-pooling connector (MM1 §3.2): adaptive average pool of the g×g patch grid to √k×√k, then one linear
 * projection to the LLM width. {@code tokens = proj(avgpool(grid))}.
 */
public final class AvgPoolConnector implements VlConnector {
    public static final String PROJ = PREFIX + "proj.";

    private final ConnectorConfig config;
    private final VisionConfig vision;
    private final ParamStore params;
    private final GridPool pool;

    public AvgPoolConnector(ConnectorConfig config, VisionConfig vision, ParamStore params) {
        this.config = config;
        this.vision = vision;
        this.params = params;
        this.pool = new GridPool(params, config.imageTokens());
    }

    static Map<String, Shape> shapes(VisionConfig v, int llmHidden) {
        Map<String, Shape> s = new LinkedHashMap<>();
        ConnectorOps.linearShapes(s, PROJ, llmHidden, v.width());
        return s;
    }

    /** Without gradient recording only the image tokens outlive the call ({@link BlockScope}). */
    @Override
    public NDArray forward(NDArray patchTokens) {
        return BlockScope.run(() -> compute(patchTokens));
    }

    private NDArray compute(NDArray patchTokens) {
        ConnectorOps.requireWidth(patchTokens, vision.width(), "avgpool");
        Shape s = patchTokens.getShape();
        long n = s.get(0);
        long dv = s.get(2);
        int g = ConnectorOps.gridSide(s.get(1), "avgpool");
        NDArray grid = patchTokens.reshape(n, g, g, dv).transpose(0, 3, 1, 2); // (N, Dv, g, g)
        NDArray pooled = pool.apply(grid); // (N, Dv, s, s)
        NDArray tokens = pooled.reshape(n, dv, config.imageTokens()).transpose(0, 2, 1); // (N, k, Dv), row-major
        return ConnectorOps.proj(params, tokens, PROJ); // (N, k, D)
    }

    @Override
    public int imageTokens() {
        return config.imageTokens();
    }
}
