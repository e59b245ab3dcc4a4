package io.mm1j.encoder;

import io.mm1j.Mm1Exception;

/**
 * Zero-shot retrieval recall at k over held-out pairs (CLIP §3.1.4 / the COCO 5k retrieval protocol): every image
 * against every text by similarity. Image→text: an image scores a hit at k when one of its own captions ranks
 * within the top k texts; text→image: a caption scores a hit when its image ranks within the top k images.
 *
 * <p>Ties count against the query: a candidate of another image with the same score ranks ahead of the correct
 * one (the synthetic world repeats captions across pictures; a tie must not read as a hit).
 */
public final class Retrieval {
    /** Recall at each k, both directions, with the chance level of each. */
    public record Recall(int[] ks, double[] imageToText, double[] textToImage, double[] imageToTextChance,
                         double[] textToImageChance) {}

    private Retrieval() {}

    /**
     * @param sim       similarities (N images × M texts), row-major
     * @param textImage for each of the M texts the index of its image (every image has at least one text)
     * @param ks        the cut-offs (1 and 5 as usual)
     */
    public static Recall recall(float[] sim, int images, int[] textImage, int... ks) {
        int texts = textImage.length;
        if ((long) images * texts != sim.length) {
            throw new Mm1Exception("retrieval: " + sim.length + " similarities for " + images + " images × " + texts
                    + " texts");
        }
        int[] captionsOf = new int[images];
        for (int g : textImage) {
            if (g < 0 || g >= images) {
                throw new Mm1Exception("retrieval: text of image " + g + ", but there are " + images + " images");
            }
            captionsOf[g]++;
        }
        double[] i2t = new double[ks.length];
        double[] i2tChance = new double[ks.length];
        for (int i = 0; i < images; i++) {
            if (captionsOf[i] == 0) {
                throw new Mm1Exception("retrieval: image " + i + " has no caption among the texts");
            }
            int best = Integer.MAX_VALUE; // rank of the best-placed own caption, counting other images' texts only
            for (int j = 0; j < texts; j++) {
                if (textImage[j] != i) {
                    continue;
                }
                float s = sim[i * texts + j];
                int rank = 0;
                for (int o = 0; o < texts; o++) {
                    if (textImage[o] != i && sim[i * texts + o] >= s) {
                        rank++;
                    }
                }
                best = Math.min(best, rank);
            }
            for (int k = 0; k < ks.length; k++) {
                i2t[k] += best < ks[k] ? 1 : 0;
                i2tChance[k] += 1 - missAll(texts, captionsOf[i], ks[k]);
            }
        }
        double[] t2i = new double[ks.length];
        double[] t2iChance = new double[ks.length];
        for (int j = 0; j < texts; j++) {
            int g = textImage[j];
            float s = sim[g * texts + j];
            int rank = 0;
            for (int i = 0; i < images; i++) {
                if (i != g && sim[i * texts + j] >= s) {
                    rank++;
                }
            }
            for (int k = 0; k < ks.length; k++) {
                t2i[k] += rank < ks[k] ? 1 : 0;
                t2iChance[k] += Math.min(1.0, ks[k] / (double) images);
            }
        }
        for (int k = 0; k < ks.length; k++) {
            i2t[k] /= images;
            i2tChance[k] /= images;
            t2i[k] /= texts;
            t2iChance[k] /= texts;
        }
        return new Recall(ks.clone(), i2t, t2i, i2tChance, t2iChance);
    }

    /** Probability that k texts drawn at random from {@code total} miss all {@code good} ones: C(total−good, k)/C(total, k). */
    static double missAll(int total, int good, int k) {
        double p = 1;
        for (int r = 0; r < k; r++) {
            if (total - good - r <= 0) {
                return 0;
            }
            p *= (double) (total - good - r) / (total - r);
        }
        return p;
    }
}
