package io.mm1j.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * CLIP's symmetric InfoNCE loss (Radford et al. 2021, Figure 3; van den Oord et al. 2018): for N matched pairs,
 * the cosine similarities of every image with every text, scaled by a learned temperature, are classified both
 * ways — each image against the N texts, each text against the N images — with the matched pair as the label:
 *
 * <pre>
 *   I = normalize(image);  T = normalize(text)              (N, E) each
 *   logits = exp(t) · I · Tᵀ                                (N, N), t the learned log logit scale
 *   loss = (CE(logits, arange(N)) + CE(logitsᵀ, arange(N))) / 2
 * </pre>
 *
 * <p>The temperature is learned as {@code t = log(1/τ)}, initialised at τ = 0.07 and clipped so the logits are
 * scaled by at most 100 ("to prevent scaling the logits by more than 100 which we found necessary to prevent
 * training instability", CLIP §2.5); {@link #MAX_LOG_SCALE} is applied after every optimizer step, as OpenCLIP
 * does.
 */
public final class ContrastiveLoss {
    /** log(1 / 0.07): CLIP's initial temperature. */
    public static final double INIT_LOG_SCALE = Math.log(1 / 0.07);
    /** log(100): the largest logit scale CLIP allows. */
    public static final double MAX_LOG_SCALE = Math.log(100);

    /** The loss and the scaled similarity matrix (rows images, columns texts). */
    public record Output(NDArray loss, NDArray logits) {}

    private ContrastiveLoss() {}

    /**
     * @param image    image embeddings (N, E), not normalised
     * @param text     text embeddings (N, E) of the same N pairs, row i matching image i
     * @param logScale the learned log logit scale (scalar or (1))
     */
    public static Output apply(NDArray image, NDArray text, NDArray logScale) {
        long n = image.getShape().get(0);
        NDManager m = image.getManager();
        NDArray i = normalize(image); // (N, E)
        NDArray t = normalize(text); // (N, E)
        NDArray logits = i.matMul(t.transpose()).mul(logScale.exp().reshape(1, 1)); // (N, N)
        NDArray eye = m.eye((int) n).toType(logits.getDataType(), false); // the matched pairs
        NDArray count = m.create((float) n).toType(logits.getDataType(), false);
        NDArray two = m.create(2f).toType(logits.getDataType(), false);
        NDArray imageToText = logits.logSoftmax(1).mul(eye).sum().neg().div(count); // each image picks its text
        NDArray textToImage = logits.logSoftmax(0).mul(eye).sum().neg().div(count); // each text picks its image
        return new Output(imageToText.add(textToImage).div(two), logits);
    }

    /** Rows scaled to unit L2 norm: (N, E) → (N, E). */
    public static NDArray normalize(NDArray x) {
        return x.div(x.square().sum(new int[] {-1}, true).sqrt());
    }
}
