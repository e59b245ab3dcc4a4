package io.mm1j.vision;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.Attention;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.LayerNorm;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.Resample;
import io.mm1j.nn.ShapeInit;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.WeightFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CLIP ViT image encoder (MM1_SPEC.md §1 "Image encoder"), in the tensor layout and names of Hugging Face's
 * {@code CLIPVisionModel} so that real CLIP / DFN checkpoints load by name:
 *
 * <pre>
 *   x = patch_embedding(pixels)                  conv p×p stride p, no bias (done as unfold + matmul)
 *   x = [class_embedding; x] + position_embedding   learned, bicubic-interpolated to other grids
 *   x = pre_layrnorm(x)
 *   N × { x = x + out_proj(attn(layer_norm1(x)));  x = x + fc2(act(fc1(layer_norm2(x)))) }
 *   patch tokens = x[:, 1:] after block {@code featureLayer};   cls = post_layernorm(x[:, 0])
 * </pre>
 *
 * <p>As in HF, {@code post_layernorm} only touches the CLS token (CLIP's pooled output); the patch tokens MM1 feeds
 * to the connector are the raw residual stream of the chosen layer (HF {@code hidden_states[featureLayer]}, index
 * 0 being the embeddings), so {@code featureLayer = -1} is {@code last_hidden_state} and -2 is LLaVA's choice.
 *
 * <p>Any input resolution that is a multiple of the patch size works: the position embeddings of the trained
 * g×g grid are resized with torch's bicubic (a = -0.75, align_corners=False), as HF's
 * {@code interpolate_pos_encoding} and MM1's 672 px SFT stage do; at the trained resolution they are used as is.
 */
public final class VisionTransformer {
    public static final String PREFIX = "vision_model.";
    public static final String PATCH = PREFIX + "embeddings.patch_embedding.weight";
    public static final String CLS = PREFIX + "embeddings.class_embedding";
    public static final String POS = PREFIX + "embeddings.position_embedding.weight";
    public static final String PRE_LN = PREFIX + "pre_layrnorm.";
    public static final String POST_LN = PREFIX + "post_layernorm.";

    private final VisionConfig config;
    private final ParamStore params;
    private final Resample.Cache matrices;
    private final NDArray scale;
    private final NDArray quickGeluBeta;

    /** Output: patch tokens (N, P, D) of the feature layer and the pooled CLS token (N, D). */
    public record Output(NDArray patchTokens, NDArray cls) {}

    /** Wraps parameters already in {@code params} (initialised by {@link #init} or loaded by {@link #load}). */
    public VisionTransformer(VisionConfig config, ParamStore params) {
        this.config = config;
        this.params = params;
        this.matrices = new Resample.Cache(params.manager(), params.dtype());
        this.scale = params.scalar(1.0 / Math.sqrt(config.width() / (double) config.heads()));
        this.quickGeluBeta = params.scalar(1.702);
    }

    public static String layer(int i) {
        return PREFIX + "encoder.layers." + i + ".";
    }

    /** Every tensor of an HF CLIPVisionModel with this config, name → shape (drives init, load and counting). */
    public static Map<String, Shape> expectedShapes(VisionConfig c) {
        Map<String, Shape> s = new LinkedHashMap<>();
        long d = c.width();
        long f = c.mlpDim();
        s.put(PATCH, new Shape(d, 3, c.patchSize(), c.patchSize()));
        s.put(CLS, new Shape(d));
        s.put(POS, new Shape(c.numPatches() + 1L, d));
        s.put(PRE_LN + "weight", new Shape(d));
        s.put(PRE_LN + "bias", new Shape(d));
        for (int i = 0; i < c.layers(); i++) {
            String l = layer(i);
            norm(s, l + "layer_norm1.", d);
            for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
                s.put(l + "self_attn." + proj + ".weight", new Shape(d, d));
                s.put(l + "self_attn." + proj + ".bias", new Shape(d));
            }
            norm(s, l + "layer_norm2.", d);
            s.put(l + "mlp.fc1.weight", new Shape(f, d));
            s.put(l + "mlp.fc1.bias", new Shape(f));
            s.put(l + "mlp.fc2.weight", new Shape(d, f));
            s.put(l + "mlp.fc2.bias", new Shape(d));
        }
        norm(s, POST_LN, d);
        return s;
    }

    private static void norm(Map<String, Shape> s, String prefix, long d) {
        s.put(prefix + "weight", new Shape(d));
        s.put(prefix + "bias", new Shape(d));
    }

    /** Random initialisation (N(0, 0.02), LayerNorm gains 1, biases 0) into {@code p}. */
    public static VisionTransformer init(VisionConfig c, ParamStore p) {
        ShapeInit.init(p, expectedShapes(c), 0.02);
        return new VisionTransformer(c, p);
    }

    /** A fresh store in {@code manager} with random weights. */
    public static VisionTransformer init(VisionConfig c, NDManager manager, DataType dtype) {
        return init(c, new ParamStore(manager, dtype));
    }

    /**
     * Loads HF CLIPVisionModel (or CLIPModel: the text tower is ignored) or OpenCLIP ({@code visual.*}, see
     * {@link OpenClipWeights}) weights from a model folder into {@code p}. Every tensor is shape-checked (errors name the file and tensor); an unexpected tensor under
     * {@code vision_model.} means the config does not match the checkpoint and is refused.
     */
    public static VisionTransformer load(Path dir, VisionConfig c, ParamStore p) {
        try (WeightFiles w = WeightFiles.open(dir)) {
            return load(w, dir, c, p);
        }
    }

    public static VisionTransformer load(WeightFiles w, Path dir, VisionConfig c, ParamStore p) {
        if (OpenClipWeights.isOpenClip(w)) {
            OpenClipWeights.load(w, dir, c, p);
            return new VisionTransformer(c, p);
        }
        for (Map.Entry<String, Shape> e : expectedShapes(c).entrySet()) {
            p.put(e.getKey(), w.load(p.manager(), e.getKey(), e.getValue()));
        }
        List<String> extra = new ArrayList<>();
        for (String n : w.unused()) {
            if (n.startsWith(PREFIX) && !n.endsWith("position_ids")) {
                extra.add(n);
            }
        }
        if (!extra.isEmpty()) {
            throw new Mm1Exception(dir + ": unexpected vision tensors for this config, e.g. '" + extra.get(0) + "' ("
                    + extra.size() + " in all)");
        }
        return new VisionTransformer(c, p);
    }

    public VisionConfig config() {
        return config;
    }

    public ParamStore params() {
        return params;
    }

    /**
     * @param pixels normalised images (N, 3, H, W), H and W multiples of the patch size
     * @return patch tokens (N, (H/p)·(W/p), D) from the feature layer, and the pooled CLS (N, D)
     */
    public Output forward(NDArray pixels) {
        long n = checkPixels(pixels).get(0);
        // Inference encodes groups of images one after another (exact: images do not interact), so the residual
        // streams and projections of a large batch of high-resolution tiles are never all alive at once.
        int group = inferenceGroup(pixels);
        return BlockScope.recording() || n <= group ? encode(pixels) : encodeInGroups(pixels, group);
    }

    /** The shape of {@code pixels}, checked: (N, 3, H, W) with H and W multiples of the patch size. */
    private Shape checkPixels(NDArray pixels) {
        Shape ps = pixels.getShape();
        int p = config.patchSize();
        if (ps.dimension() != 4 || ps.get(1) != 3 || ps.get(2) % p != 0 || ps.get(3) % p != 0) {
            throw new Mm1Exception("vision encoder: expected images (N, 3, H, W) with H and W multiples of "
                    + p + ", got " + ps);
        }
        return ps;
    }

    /**
     * Images encoded together in inference: as many as fit {@link #IMAGE_GROUP_BYTES} of block activations (at
     * least one). Callers that run more per image after the encoder (the connector) group by the same count.
     *
     * @param pixels (N, 3, H, W)
     */
    public int inferenceGroup(NDArray pixels) {
        Shape ps = pixels.getShape();
        int p = config.patchSize();
        long tokens = 1 + (ps.get(2) / p) * (ps.get(3) / p);
        long perImage = tokens * config.width() * pixels.getDataType().getNumOfBytes() * STREAMS_PER_IMAGE;
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, IMAGE_GROUP_BYTES / perImage));
    }

    /**
     * Activation budget of one group of images in inference: 256 MiB, i.e. all 8 ViT-L/14-336 images of a batch
     * at once, 6 ViT-H/14-378 images, 2 ViT-H tiles of 672 px.
     */
    public static final long IMAGE_GROUP_BYTES = 256L << 20;
    /** Residual-stream-sized tensors alive at a block's peak (stream, norm, q, k, v, their head layouts, out). */
    private static final int STREAMS_PER_IMAGE = 10;

    /** Inference over groups of {@code group} images; outputs as {@link #forward} for the whole batch. */
    public Output encodeInGroups(NDArray pixels, int group) {
        long n = pixels.getShape().get(0);
        ai.djl.ndarray.NDList tokens = new ai.djl.ndarray.NDList();
        ai.djl.ndarray.NDList pooled = new ai.djl.ndarray.NDList();
        for (long i = 0; i < n; i += group) {
            NDArray part = pixels.get(new ai.djl.ndarray.index.NDIndex("{}:{}", i, Math.min(n, i + group)));
            ai.djl.ndarray.NDList out = BlockScope.runAll(() -> {
                Output o = encode(part);
                return new ai.djl.ndarray.NDList(o.patchTokens(), o.cls());
            });
            tokens.add(out.get(0));
            pooled.add(out.get(1));
        }
        Output all = new Output(ai.djl.ndarray.NDArrays.concat(tokens, 0), ai.djl.ndarray.NDArrays.concat(pooled, 0));
        if (!BlockScope.recording()) {
            tokens.close();
            pooled.close();
        }
        return all;
    }

    private Output encode(NDArray pixels) {
        // Without gradient recording every step keeps only its output (BlockScope): the embedding temporaries,
        // then one block's intermediates at a time, so peak memory does not grow with depth.
        NDArray embedded = BlockScope.run(() -> embeddings(pixels)); // (N, 1+P, D)
        NDArray h = BlockScope.chain(embedded, 0, depth(), this::block);
        NDArray patchTokens = h.get(":, 1:, :"); // (N, P, D)
        NDArray pooled = BlockScope.run(() -> layerNorm(h.get(":, 0, :"), POST_LN)); // (N, D)
        if (!BlockScope.recording()) { // the view keeps the storage; closing the outputs then frees all of it
            embedded.close();
            h.close();
        }
        return new Output(patchTokens, pooled);
    }

    /**
     * The whole residual stream of the feature layer, CLS row included: HF {@code hidden_states[featureLayer]}
     * (N, 1 + P, D), what LLaVA's {@code vision_feature_select_strategy = "full"} feeds its projector.
     *
     * @param pixels normalised images (N, 3, H, W), H and W multiples of the patch size
     */
    public NDArray hiddenState(NDArray pixels) {
        checkPixels(pixels);
        NDArray embedded = BlockScope.run(() -> embeddings(pixels)); // (N, 1+P, D)
        NDArray h = BlockScope.chain(embedded, 0, depth(), this::block); // (N, 1+P, D)
        if (!BlockScope.recording() && h != embedded) {
            embedded.close();
        }
        return h;
    }

    /** Blocks run up to the feature layer (HF {@code hidden_states[featureLayer]}). */
    public int depth() {
        return config.featureLayer() < 0 ? config.layers() + 1 + config.featureLayer() : config.featureLayer();
    }

    /**
     * Patch embedding, CLS token, position embeddings and pre-LayerNorm: pixels (N, 3, H, W), already checked by
     * {@link #forward} → (N, 1 + gh·gw, D), the input of block 0.
     */
    public NDArray embeddings(NDArray pixels) {
        int p = config.patchSize();
        int gh = Math.toIntExact(pixels.getShape().get(2) / p);
        int gw = Math.toIntExact(pixels.getShape().get(3) / p);
        long n = pixels.getShape().get(0);
        long d = config.width();
        NDArray patches = pixels.reshape(n, 3, gh, p, gw, p)
                .transpose(0, 2, 4, 1, 3, 5) // (N, gh, gw, 3, p, p)
                .reshape(n, (long) gh * gw, 3L * p * p); // (N, P, 3·p·p), same (c, y, x) order as the conv kernel
        NDArray kernel = params.get(PATCH).reshape(d, 3L * p * p); // (D, 3·p·p)
        NDArray x = Ops.linear(patches, kernel); // (N, P, D)
        NDArray cls = params.get(CLS).reshape(1, 1, d).broadcast(n, 1, d); // (N, 1, D)
        NDArray h = cls.concat(x, 1).add(positions(gh, gw)); // (N, 1+P, D)
        return layerNorm(h, PRE_LN);
    }

    /**
     * Position embeddings for a gh×gw grid: (1 + gh·gw, D). The CLS row is kept; the g×g patch rows are resized
     * bicubically when the grid differs from the trained one.
     */
    public NDArray positions(int gh, int gw) {
        NDArray pos = params.get(POS); // (1 + g·g, D)
        int g = config.gridSize();
        if (gh == g && gw == g) {
            return pos;
        }
        long d = config.width();
        NDArray grid = pos.get("1:, :").reshape(g, g, d).transpose(2, 0, 1); // (D, g, g)
        NDArray resized = Resample.apply(grid, matrices.torchBicubic(g, gh), matrices.torchBicubic(g, gw)); // (D, gh, gw)
        NDArray rows = resized.transpose(1, 2, 0).reshape((long) gh * gw, d); // (gh·gw, D)
        return pos.get("0:1, :").concat(rows, 0);
    }

    /**
     * One pre-LN block: {@code x + attn(ln1(x))}, then {@code x + mlp(ln2(x))}. {@code h (N, T, D)}. Each residual
     * half is its own {@link BlockScope} step, so inference holds either the attention's or the MLP's
     * intermediates, never both.
     */
    public NDArray block(NDArray h, int i) {
        NDArray a = BlockScope.run(() -> h.add(attention(h, i, null)));
        return BlockScope.run(() -> a.add(BlockScope.perRow(a, config.mlpDim(), x -> mlp(x, i))));
    }

    /**
     * The residual stream after every block under an additive attention {@code mask} (AIM's prefix-causal
     * attention, {@code io.mm1j.encoder.AimObjective}), for training: pixels (N, 3, H, W) and a mask broadcastable
     * to (N, 1, 1, T, T) with T = 1 + patches → (N, T, D), before {@code post_layernorm}.
     */
    public NDArray hidden(NDArray pixels, NDArray mask) {
        NDArray h = embeddings(pixels); // (N, T, D)
        for (int i = 0; i < config.layers(); i++) {
            NDArray a = h.add(attention(h, i, mask));
            h = a.add(mlp(a, i));
        }
        return h;
    }

    /** {@code post_layernorm} over any tokens (…, D): CLIP's pooled CLS, or every token of an AIM trunk. */
    public NDArray postNorm(NDArray x) {
        return layerNorm(x, POST_LN);
    }

    /** {@code out_proj(attn(ln1(h)))}: (N, T, D) → (N, T, D); {@code mask} additive or null. */
    private NDArray attention(NDArray h, int i, NDArray mask) {
        String l = layer(i);
        Shape hs = h.getShape();
        long b = hs.get(0);
        long t = hs.get(1);
        long d = config.width();
        int heads = config.heads();
        long hd = d / heads;
        NDArray n1 = layerNorm(h, l + "layer_norm1.");
        NDArray q = proj(n1, l + "self_attn.q_proj.").reshape(b, t, heads, hd).transpose(0, 2, 1, 3); // (N, H, T, hd)
        NDArray k = proj(n1, l + "self_attn.k_proj.").reshape(b, t, heads, hd).transpose(0, 2, 1, 3); // (N, H, T, hd)
        NDArray v = proj(n1, l + "self_attn.v_proj.").reshape(b, t, heads, hd).transpose(0, 2, 1, 3); // (N, H, T, hd)
        NDArray a = Attention.attend(q, k, v, mask, scale).transpose(0, 2, 1, 3).reshape(b, t, d); // (N, T, D)
        return proj(a, l + "self_attn.out_proj.");
    }

    /** {@code fc2(act(fc1(ln2(h))))}, per token: (…, D) → (…, D). */
    private NDArray mlp(NDArray h, int i) {
        String l = layer(i);
        NDArray n2 = layerNorm(h, l + "layer_norm2.");
        return proj(activation(proj(n2, l + "mlp.fc1.")), l + "mlp.fc2.");
    }

    private NDArray proj(NDArray x, String prefix) {
        return params.linear(x, prefix + "weight", prefix + "bias");
    }

    private NDArray layerNorm(NDArray x, String prefix) {
        return LayerNorm.apply(x, params.get(prefix + "weight"), params.get(prefix + "bias"), config.layerNormEps());
    }

    /** Exact (erf) GELU as HF's "gelu", or OpenAI CLIP's quick-GELU {@code x·σ(1.702x)} (cached scalar). */
    private NDArray activation(NDArray x) {
        if ("quick_gelu".equals(config.activation())) {
            return x.mul(Activation.sigmoid(x.mul(quickGeluBeta)));
        }
        return Activation.gelu(x);
    }
}
