package io.mm1j.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.mm1j.nn.Attention;
import io.mm1j.nn.LayerNorm;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * CLIP's text tower (Radford et al. 2021, §2.4: "a Transformer … operates on a lower-cased byte pair encoding …
 * the activations of the highest layer of the transformer at the [EOS] token are treated as the feature
 * representation of the text, which is layer normalized and then linearly projected"), in Hugging Face
 * {@code CLIPTextModel}'s names:
 *
 * <pre>
 *   x = token_embedding(ids) + position_embedding[0:T]
 *   N × { x = x + out_proj(causal_attn(layer_norm1(x)));  x = x + fc2(act(fc1(layer_norm2(x)))) }
 *   pooled = final_layer_norm(x)[eos position]
 * </pre>
 *
 * <p>Attention is causal as in CLIP, so the [EOS] token sees the whole caption and nothing of the padding after it.
 */
public final class TextTransformer {
    public static final String PREFIX = "text_model.";
    public static final String TOKENS = PREFIX + "embeddings.token_embedding.weight";
    public static final String POSITIONS = PREFIX + "embeddings.position_embedding.weight";
    public static final String FINAL_LN = PREFIX + "final_layer_norm.";

    /**
     * @param vocab   token vocabulary (the run tokenizer's)
     * @param context most tokens per caption, [BOS] and [EOS] included (CLIP: 77)
     * @param width   token width
     * @param layers  transformer blocks
     * @param heads   attention heads
     * @param mlpDim  MLP hidden width
     */
    public record Config(int vocab, int context, int width, int layers, int heads, int mlpDim, String activation,
                         double layerNormEps) {
        public Config {
            if (vocab < 1 || context < 2 || width < 1 || layers < 1 || heads < 1 || width % heads != 0 || mlpDim < 1) {
                throw new io.mm1j.Mm1Exception("model.text: width must be a positive multiple of heads; context >= 2; "
                        + "layers and mlp_dim positive (got width " + width + ", heads " + heads + ", context "
                        + context + ", layers " + layers + ", mlp_dim " + mlpDim + ")");
            }
        }
    }

    private final Config config;
    private final ParamStore params;
    private final Attention attention;
    private final NDArray scale;
    private final NDArray quickGeluBeta;

    public TextTransformer(Config config, ParamStore params) {
        this.config = config;
        this.params = params;
        this.attention = new Attention(params.manager());
        this.scale = params.scalar(1.0 / Math.sqrt(config.width() / (double) config.heads()));
        this.quickGeluBeta = params.scalar(1.702);
    }

    public static String layer(int i) {
        return PREFIX + "encoder.layers." + i + ".";
    }

    /** Every tensor, name → shape (drives init, load and counting). */
    public static Map<String, Shape> expectedShapes(Config c) {
        Map<String, Shape> s = new LinkedHashMap<>();
        long d = c.width();
        long f = c.mlpDim();
        s.put(TOKENS, new Shape(c.vocab(), d));
        s.put(POSITIONS, new Shape(c.context(), d));
        for (int i = 0; i < c.layers(); i++) {
            String l = layer(i);
            s.put(l + "layer_norm1.weight", new Shape(d));
            s.put(l + "layer_norm1.bias", new Shape(d));
            for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
                s.put(l + "self_attn." + proj + ".weight", new Shape(d, d));
                s.put(l + "self_attn." + proj + ".bias", new Shape(d));
            }
            s.put(l + "layer_norm2.weight", new Shape(d));
            s.put(l + "layer_norm2.bias", new Shape(d));
            s.put(l + "mlp.fc1.weight", new Shape(f, d));
            s.put(l + "mlp.fc1.bias", new Shape(f));
            s.put(l + "mlp.fc2.weight", new Shape(d, f));
            s.put(l + "mlp.fc2.bias", new Shape(d));
        }
        s.put(FINAL_LN + "weight", new Shape(d));
        s.put(FINAL_LN + "bias", new Shape(d));
        return s;
    }

    public Config config() {
        return config;
    }

    /**
     * @param ids (B, T) token ids, T ≤ context, padded after [EOS]
     * @param eos (B) int64 position of each row's [EOS]
     * @return pooled features (B, D): {@code final_layer_norm} of the [EOS] token's state
     */
    public NDArray forward(NDArray ids, NDArray eos) {
        long b = ids.getShape().get(0);
        int t = Math.toIntExact(ids.getShape().get(1));
        long d = config.width();
        NDArray pos = params.get(POSITIONS).get("0:{}, :", t); // (T, D)
        NDArray h = Ops.rows(params.get(TOKENS), ids).add(pos); // (B, T, D)
        NDArray mask = attention.causal(t, t, 0, params.dtype()); // (1, 1, 1, T, T)
        for (int i = 0; i < config.layers(); i++) {
            NDArray a = h.add(attend(h, i, mask));
            h = a.add(mlp(a, i));
        }
        NDArray index = eos.reshape(b, 1, 1).broadcast(b, 1, d); // (B, 1, D)
        NDArray last = h.gather(index, 1).reshape(b, d); // (B, D): the [EOS] token's state
        return LayerNorm.apply(last, params.get(FINAL_LN + "weight"), params.get(FINAL_LN + "bias"),
                config.layerNormEps());
    }

    /** {@code out_proj(causal_attn(ln1(h)))}: (B, T, D) → (B, T, D). */
    private NDArray attend(NDArray h, int i, NDArray mask) {
        String l = layer(i);
        long b = h.getShape().get(0);
        long t = h.getShape().get(1);
        long d = config.width();
        int heads = config.heads();
        long hd = d / heads;
        NDArray n1 = norm(h, l + "layer_norm1.");
        NDArray q = proj(n1, l + "self_attn.q_proj.").reshape(b, t, heads, hd).transpose(0, 2, 1, 3); // (B, H, T, hd)
        NDArray k = proj(n1, l + "self_attn.k_proj.").reshape(b, t, heads, hd).transpose(0, 2, 1, 3); // (B, H, T, hd)
        NDArray v = proj(n1, l + "self_attn.v_proj.").reshape(b, t, heads, hd).transpose(0, 2, 1, 3); // (B, H, T, hd)
        NDArray a = Attention.attend(q, k, v, mask, attention.isCausal(mask), scale).transpose(0, 2, 1, 3)
                .reshape(b, t, d); // (B, T, D)
        return proj(a, l + "self_attn.out_proj.");
    }

    /** {@code fc2(act(fc1(ln2(h))))}. */
    private NDArray mlp(NDArray h, int i) {
        String l = layer(i);
        NDArray x = proj(norm(h, l + "layer_norm2."), l + "mlp.fc1.");
        x = "quick_gelu".equals(config.activation()) ? x.mul(Activation.sigmoid(x.mul(quickGeluBeta)))
                : Activation.gelu(x);
        return proj(x, l + "mlp.fc2.");
    }

    private NDArray proj(NDArray x, String prefix) {
        return Ops.linear(x, params.get(prefix + "weight"), params.get(prefix + "bias"));
    }

    private NDArray norm(NDArray x, String prefix) {
        return LayerNorm.apply(x, params.get(prefix + "weight"), params.get(prefix + "bias"), config.layerNormEps());
    }
}
