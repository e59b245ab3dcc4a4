package io.mm1j.llava;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.mm1j.Mm1Exception;
import io.mm1j.connector.VlConnector;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LLaVA's {@code multi_modal_projector}: {@code linear_2(act(linear_1(features)))} on every vision feature, with
 * the activation and the biases the config names ({@code projector_hidden_act}, {@code multimodal_projector_bias}).
 * Stored under mm1j's connector names ({@code connector.linear_1.*}), so an mm1j MLP connector and a LLaVA projector
 * are the same tensors. LLaVA-NeXT's {@code image_newline} (D) lives next to them as {@link #NEWLINE}.
 */
public final class LlavaProjector implements VlConnector {
    public static final String FC1 = PREFIX + "linear_1.";
    public static final String FC2 = PREFIX + "linear_2.";
    public static final String NEWLINE = PREFIX + "image_newline";

    private final LlavaConfig config;
    private final ParamStore params;
    private final NDArray quickGeluBeta;

    public LlavaProjector(LlavaConfig config, ParamStore params) {
        this.config = config;
        this.params = params;
        this.quickGeluBeta = params.scalar(1.702);
    }

    /** Every projector tensor, name → shape. */
    public static Map<String, Shape> shapes(LlavaConfig c) {
        Map<String, Shape> s = new LinkedHashMap<>();
        long d = c.text().hiddenSize();
        s.put(FC1 + "weight", new Shape(d, c.vision().width()));
        if (c.projectorBias()) {
            s.put(FC1 + "bias", new Shape(d));
        }
        s.put(FC2 + "weight", new Shape(d, d));
        if (c.projectorBias()) {
            s.put(FC2 + "bias", new Shape(d));
        }
        if (c.kind() == LlavaConfig.Kind.LLAVA_NEXT) {
            s.put(NEWLINE, new Shape(d));
        }
        return s;
    }

    /**
     * @param features vision features (N, P, Dv)
     * @return (N, P, D)
     */
    @Override
    public NDArray forward(NDArray features) {
        if (features.getShape().dimension() != 3 || features.getShape().get(2) != config.vision().width()) {
            throw new Mm1Exception("llava projector: expected features (N, P, " + config.vision().width() + "), got "
                    + features.getShape());
        }
        return BlockScope.run(() -> proj(activation(proj(features, FC1)), FC2)); // (N, P, D)
    }

    private NDArray proj(NDArray x, String prefix) {
        return config.projectorBias() ? Ops.linear(x, params.get(prefix + "weight"), params.get(prefix + "bias"))
                : Ops.linear(x, params.get(prefix + "weight"));
    }

    private NDArray activation(NDArray x) {
        return switch (config.projectorAct()) {
            case "gelu" -> Activation.gelu(x);
            case "quick_gelu" -> x.mul(Activation.sigmoid(x.mul(quickGeluBeta)));
            case "relu" -> Activation.relu(x);
            case "silu" -> x.mul(Activation.sigmoid(x));
            default -> throw new Mm1Exception("llava projector: unsupported activation " + config.projectorAct());
        };
    }

    /** The image_newline embedding (D), LLaVA-NeXT only. */
    public NDArray newline() {
        return params.get(NEWLINE);
    }

    /** Tokens per tile (the NeXT pipeline computes each picture's own count). */
    @Override
    public int imageTokens() {
        return config.tokensPerTile();
    }
}
