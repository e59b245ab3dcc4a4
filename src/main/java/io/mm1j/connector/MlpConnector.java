package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.ParamStore;
import io.mm1j.Mm1Exception;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LLaVA-1.5's projector: a 2-layer MLP with GELU applied to every patch token, so k = the patch count
 * ({@code linear_2(gelu(linear_1(x)))}, LLaVA's {@code multi_modal_projector} names under {@code connector.}).
 * Not one of MM1's three, but the common baseline it is compared against.
 */
public final class MlpConnector implements VlConnector {
    public static final String FC1 = PREFIX + "linear_1.";
    public static final String FC2 = PREFIX + "linear_2.";

    private final ConnectorConfig config;
    private final VisionConfig vision;
    private final ParamStore params;

    public MlpConnector(ConnectorConfig config, VisionConfig vision, ParamStore params) {
        if (config.imageTokens() != vision.numPatches()) {
            throw new Mm1Exception("connector.imageTokens (" + config.imageTokens() + ") must equal the encoder's "
                    + "patch count (" + vision.numPatches() + ") for the mlp connector");
        }
        this.config = config;
        this.vision = vision;
        this.params = params;
    }

    static Map<String, Shape> shapes(VisionConfig v, int llmHidden) {
        Map<String, Shape> s = new LinkedHashMap<>();
        ConnectorOps.linearShapes(s, FC1, llmHidden, v.width());
        ConnectorOps.linearShapes(s, FC2, llmHidden, llmHidden);
        return s;
    }

    /** Without gradient recording only the image tokens outlive the call ({@link BlockScope}). */
    @Override
    public NDArray forward(NDArray patchTokens) {
        return BlockScope.run(() -> compute(patchTokens));
    }

    private NDArray compute(NDArray patchTokens) {
        ConnectorOps.requireWidth(patchTokens, vision.width(), "mlp");
        long p = patchTokens.getShape().get(1);
        if (p != config.imageTokens()) {
            throw new Mm1Exception("mlp connector: got " + p + " patch tokens but connector.imageTokens is "
                    + config.imageTokens());
        }
        NDArray h = Activation.gelu(ConnectorOps.proj(params, patchTokens, FC1)); // (N, P, D)
        return ConnectorOps.proj(params, h, FC2); // (N, P, D)
    }

    @Override
    public int imageTokens() {
        return config.imageTokens();
    }
}
