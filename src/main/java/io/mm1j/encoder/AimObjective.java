package io.mm1j.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.mm1j.nn.Attention;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import io.mm1j.vision.VisionTransformer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The reconstructive encoder objective MM1 compares with CLIP (MM1 §3.1, "AIM"): autoregressive image models,
 * El-Nouby et al. 2024, "Scalable Pre-training of Large Autoregressive Image Models" (arXiv 2401.08541), §3:
 * <ul>
 *   <li>the image is a sequence of non-overlapping patches in raster order, and the model predicts each next
 *       patch from the ones before it (§3, eq. 1–2);</li>
 *   <li><b>prefix attention</b> (§3, "Prefix Transformer"): a prefix length K is drawn uniformly from
 *       {1, …, P−1} per image; the first K patches attend to each other bidirectionally, every later patch
 *       causally, and the loss covers only the patches after the prefix — so the trunk also works with full
 *       bidirectional attention downstream, as it does when MM1 reads its patch tokens;</li>
 *   <li><b>normalised pixel targets</b> (§3, "Prediction head", after MAE): each target patch is standardised
 *       over its own pixels, and the loss is the mean squared error;</li>
 *   <li>an <b>MLP prediction head</b> on top of the trunk (AIM uses 12 MLP blocks; one hidden layer here), thrown
 *       away after pre-training.</li>
 * </ul>
 *
 * <p>On mm1j's CLIP-layout ViT the CLS token sits at position 0 and acts as the start token: it always belongs to
 * the prefix, and the output at token position q (CLS = 0, patch j at position j) predicts patch q + 1. Positions
 * q ≥ K carry loss.
 */
public final class AimObjective {
    public static final String HEAD = "aim_head.";
    /** Variance epsilon of the per-patch target normalisation (MAE's 1e-6). */
    static final double TARGET_EPS = 1e-6;

    private final VisionTransformer vision;
    private final ParamStore params;
    private final NDArray eps;

    public AimObjective(VisionTransformer vision) {
        this.vision = vision;
        this.params = vision.params();
        this.eps = params.scalar(TARGET_EPS);
    }

    /** The prediction head's tensors: {@code fc1 (hidden, D)}, {@code fc2 (3·p·p, hidden)} with biases. */
    public static Map<String, Shape> headShapes(int width, int patchSize, int hidden) {
        Map<String, Shape> s = new LinkedHashMap<>();
        long out = 3L * patchSize * patchSize;
        s.put(HEAD + "fc1.weight", new Shape(hidden, width));
        s.put(HEAD + "fc1.bias", new Shape(hidden));
        s.put(HEAD + "fc2.weight", new Shape(out, hidden));
        s.put(HEAD + "fc2.bias", new Shape(out));
        return s;
    }

    /**
     * The additive prefix-causal mask: for image b with prefix K_b, query position q sees key position k iff
     * {@code k ≤ max(q, K_b)} (CLIP layout: CLS at 0, patches 1…P). Flattened (B, T, T), values 0 or
     * {@link Attention#MASKED}.
     *
     * @param prefix K_b ∈ [1, P−1] per image
     * @param tokens T = 1 + P
     */
    public static float[] prefixCausalMask(int[] prefix, int tokens) {
        float[] m = new float[prefix.length * tokens * tokens];
        for (int b = 0; b < prefix.length; b++) {
            for (int q = 0; q < tokens; q++) {
                int visible = Math.max(q, prefix[b]);
                for (int k = visible + 1; k < tokens; k++) {
                    m[(b * tokens + q) * tokens + k] = (float) Attention.MASKED;
                }
            }
        }
        return m;
    }

    /**
     * Which output positions carry loss: flattened (B, P), 1 where position q (predicting patch q+1) lies at or
     * after the prefix, q ≥ K_b.
     */
    public static float[] lossWeights(int[] prefix, int patches) {
        float[] w = new float[prefix.length * patches];
        for (int b = 0; b < prefix.length; b++) {
            for (int q = prefix[b]; q < patches; q++) {
                w[b * patches + q] = 1;
            }
        }
        return w;
    }

    /** Per-patch standardised pixels in raster order: (N, 3, H, W) → (N, P, 3·p·p), the (c, y, x) order of the patch embedding. */
    public NDArray targets(NDArray pixels) {
        int p = vision.config().patchSize();
        Shape s = pixels.getShape();
        long n = s.get(0);
        long gh = s.get(2) / p;
        long gw = s.get(3) / p;
        NDArray patches = pixels.reshape(n, 3, gh, p, gw, p).transpose(0, 2, 4, 1, 3, 5) // (N, gh, gw, 3, p, p)
                .reshape(n, gh * gw, 3L * p * p); // (N, P, 3·p·p)
        NDArray mean = patches.mean(new int[] {-1}, true); // (N, P, 1)
        NDArray centred = patches.sub(mean);
        NDArray var = centred.square().mean(new int[] {-1}, true); // (N, P, 1), biased as MAE
        return centred.div(var.add(eps).sqrt());
    }

    /**
     * The AIM loss of a batch: mean squared error of the predicted next patches against the normalised targets,
     * over the non-prefix positions of every image.
     *
     * @param pixels (N, 3, H, W) normalised images
     * @param prefix K_b per image, each in [1, P−1]
     * @return scalar loss
     */
    public NDArray loss(NDArray pixels, int[] prefix) {
        NDManager m = pixels.getManager();
        int patches = vision.config().numPatches();
        int tokens = patches + 1;
        long n = prefix.length;
        for (int k : prefix) {
            if (k < 1 || k >= patches) {
                throw new io.mm1j.Mm1Exception("AIM prefix length must be within [1, " + (patches - 1) + "], got " + k);
            }
        }
        NDArray mask = m.create(prefixCausalMask(prefix, tokens), new Shape(n, 1, 1, tokens, tokens))
                .toType(params.dtype(), false); // (N, 1, 1, T, T)
        NDArray h = vision.postNorm(vision.hidden(pixels, mask)); // (N, T, D)
        NDArray pred = head(h.get(":, 0:{}, :", patches)); // (N, P, 3·p·p): position q predicts patch q+1
        return maskedMse(pred, targets(pixels), prefix);
    }

    /**
     * Mean over the non-prefix positions of the per-position mean squared error: pred and targets (N, P, 3·p·p),
     * row b counting positions q ≥ prefix[b].
     */
    static NDArray maskedMse(NDArray pred, NDArray targets, int[] prefix) {
        long n = prefix.length;
        int patches = Math.toIntExact(pred.getShape().get(1));
        NDArray err = pred.sub(targets).square().mean(new int[] {-1}); // (N, P)
        NDArray w = pred.getManager().create(lossWeights(prefix, patches), new Shape(n, patches))
                .toType(err.getDataType(), false);
        return err.mul(w).sum().div(w.sum());
    }

    /** {@code fc2(gelu(fc1(x)))}: (…, D) → (…, 3·p·p). */
    private NDArray head(NDArray x) {
        NDArray hidden = Activation.gelu(Ops.linear(x, params.get(HEAD + "fc1.weight"), params.get(HEAD + "fc1.bias")));
        return Ops.linear(hidden, params.get(HEAD + "fc2.weight"), params.get(HEAD + "fc2.bias"));
    }
}
