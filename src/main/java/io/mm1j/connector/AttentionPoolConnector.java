package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.Attention;
import io.mm1j.nn.LayerNorm;
import io.mm1j.nn.ParamStore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Attention-pooling connector (MM1 §3.2): k learned queries cross-attend to the (LayerNorm-ed) patch tokens with
 * the encoder's head count, then one linear projection to the LLM width:
 * <pre>
 *   kv = norm(x);  a = out_proj(attn(q_proj(query), k_proj(kv), v_proj(kv)));  tokens = proj(a)
 * </pre>
 * k need not be a square, and the patch grid may be any size (e.g. 672 px tiles).
 */
public final class AttentionPoolConnector implements VlConnector {
    public static final String QUERY = PREFIX + "query";
    public static final String NORM = PREFIX + "norm.";
    public static final String ATTN = PREFIX + "attn.";
    public static final String PROJ = PREFIX + "proj.";

    private final ConnectorConfig config;
    private final VisionConfig vision;
    private final ParamStore params;
    private final NDArray scale;

    public AttentionPoolConnector(ConnectorConfig config, VisionConfig vision, ParamStore params) {
        this.config = config;
        this.vision = vision;
        this.params = params;
        this.scale = params.scalar(1.0 / Math.sqrt(vision.width() / (double) vision.heads()));
    }

    static Map<String, Shape> shapes(ConnectorConfig c, VisionConfig v, int llmHidden) {
        long dv = v.width();
        Map<String, Shape> s = new LinkedHashMap<>();
        s.put(QUERY, new Shape(c.imageTokens(), dv));
        s.put(NORM + "weight", new Shape(dv));
        s.put(NORM + "bias", new Shape(dv));
        for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
            ConnectorOps.linearShapes(s, ATTN + proj + ".", dv, dv);
        }
        ConnectorOps.linearShapes(s, PROJ, llmHidden, dv);
        return s;
    }

    /** Without gradient recording only the image tokens outlive the call ({@link BlockScope}). */
    @Override
    public NDArray forward(NDArray patchTokens) {
        return BlockScope.run(() -> compute(patchTokens));
    }

    private NDArray compute(NDArray patchTokens) {
        ConnectorOps.requireWidth(patchTokens, vision.width(), "attnpool");
        Shape s = patchTokens.getShape();
        long n = s.get(0);
        long p = s.get(1);
        long dv = s.get(2);
        long k = config.imageTokens();
        int heads = vision.heads();
        long hd = dv / heads;
        NDArray kv = LayerNorm.apply(patchTokens, params.get(NORM + "weight"), params.get(NORM + "bias"),
                vision.layerNormEps()); // (N, P, Dv)
        NDArray q = ConnectorOps.proj(params, params.get(QUERY), ATTN + "q_proj.")
                .reshape(1, k, heads, hd).transpose(0, 2, 1, 3) // (1, H, k, hd)
                .broadcast(n, heads, k, hd); // (N, H, k, hd): the same queries for every image
        NDArray keys = ConnectorOps.proj(params, kv, ATTN + "k_proj.")
                .reshape(n, p, heads, hd).transpose(0, 2, 1, 3); // (N, H, P, hd)
        NDArray values = ConnectorOps.proj(params, kv, ATTN + "v_proj.")
                .reshape(n, p, heads, hd).transpose(0, 2, 1, 3); // (N, H, P, hd)
        NDArray a = Attention.attend(q, keys, values, null, scale)
                .transpose(0, 2, 1, 3).reshape(n, k, dv); // (N, k, Dv)
        a = ConnectorOps.proj(params, a, ATTN + "out_proj.");
        return ConnectorOps.proj(params, a, PROJ); // (N, k, D)
    }

    @Override
    public int imageTokens() {
        return config.imageTokens();
    }
}
