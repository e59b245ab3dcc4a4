package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.encoder.ContrastiveLoss;
import io.mm1j.encoder.EncoderModel;
import io.mm1j.encoder.Retrieval;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Held-out evaluation of {@code mm1 clip}, without gradients: the validation loss of the run's objective and, for
 * the contrastive objective, zero-shot image→text and text→image retrieval R@1 / R@5 over the held-out pairs
 * ({@link Retrieval}), logged with their chance levels. Also draws the run's plots.
 */
final class EncoderEval {
    static final int[] KS = {1, 5};

    private final EncoderModel model;
    private final int chunk;
    private final long seed;

    /**
     * @param chunk images (and pairs for the validation loss) per forward: the training batch size, so the
     *              validation InfoNCE is over batches like the training one
     */
    EncoderEval(EncoderModel model, int chunk, long seed) {
        this.model = model;
        this.chunk = chunk;
        this.seed = seed;
    }

    Map<String, Double> evaluate(PairBatches.Held held) {
        Map<String, Double> m = new LinkedHashMap<>();
        NDManager nd = model.params().manager();
        int s = model.config().vision().imageSize();
        int per = 3 * s * s;
        try (NDScope scope = new NDScope()) {
            NDArray pixels = nd.create(held.pixels(), new Shape(held.images(), 3, s, s));
            if (model.config().objective() == EncoderModel.Objective.AIM) {
                m.put("valLoss", aimLoss(pixels, held.images()));
            } else {
                NDArray ids = nd.create(held.tokens(), new Shape(held.textImage().length, held.context()));
                NDArray eos = nd.create(held.eosPositions(), new Shape(held.textImage().length));
                NDArray images = embedImages(pixels, held.images()); // (N, E)
                NDArray texts = embedTexts(ids, eos); // (M, E)
                m.put("valLoss", contrastiveLoss(images, texts, held.first()));
                float[] sim = ContrastiveLoss.normalize(images).matMul(ContrastiveLoss.normalize(texts).transpose())
                        .toType(DataType.FLOAT32, false).toFloatArray(); // (N, M)
                Retrieval.Recall r = Retrieval.recall(sim, held.images(), held.textImage(), KS);
                for (int k = 0; k < KS.length; k++) {
                    m.put("retrieval/i2t@" + KS[k], r.imageToText()[k]);
                    m.put("retrieval/t2i@" + KS[k], r.textToImage()[k]);
                }
                for (int k = 0; k < KS.length; k++) {
                    m.put("retrieval/chance/i2t@" + KS[k], r.imageToTextChance()[k]);
                    m.put("retrieval/chance/t2i@" + KS[k], r.textToImageChance()[k]);
                }
            }
            scope.suppressNotUsedWarning();
        }
        m.put("heldOutImages", (double) held.images());
        m.put("heldOutTexts", (double) held.textImage().length);
        return m;
    }

    private NDArray embedImages(NDArray pixels, int n) {
        NDList parts = new NDList();
        for (int i = 0; i < n; i += chunk) {
            parts.add(model.imageEmbeddings(pixels.get(new NDIndex("{}:{}", i, Math.min(n, i + chunk)))));
        }
        return NDArrays.concat(parts, 0);
    }

    private NDArray embedTexts(NDArray ids, NDArray eos) {
        long m = ids.getShape().get(0);
        NDList parts = new NDList();
        for (long j = 0; j < m; j += chunk) {
            NDIndex rows = new NDIndex("{}:{}", j, Math.min(m, j + chunk));
            parts.add(model.textEmbeddings(ids.get(rows), eos.get(rows)));
        }
        return NDArrays.concat(parts, 0);
    }

    /** Mean InfoNCE over chunks of (image, its first caption) pairs, weighted by chunk size (chunks of ≥ 2 pairs). */
    private double contrastiveLoss(NDArray images, NDArray texts, int[] first) {
        NDList rowsOfFirst = new NDList();
        for (int j : first) {
            rowsOfFirst.add(texts.get(new NDIndex("{}:{}", j, j + 1)));
        }
        NDArray firstTexts = NDArrays.concat(rowsOfFirst, 0); // (N, E): each image's first caption
        NDArray scale = model.params().get(EncoderModel.LOGIT_SCALE);
        double sum = 0;
        long count = 0;
        for (int i = 0; i + 1 < first.length; i += chunk) {
            int to = Math.min(first.length, i + chunk);
            NDIndex rows = new NDIndex("{}:{}", i, to);
            double l = ContrastiveLoss.apply(images.get(rows), firstTexts.get(rows), scale).loss()
                    .toType(DataType.FLOAT64, false).getDouble();
            sum += l * (to - i);
            count += to - i;
        }
        return sum / count;
    }

    /** AIM loss over chunks of the held-out images, with prefix lengths fixed by the seed (same at every eval). */
    private double aimLoss(NDArray pixels, int n) {
        int patches = model.config().vision().numPatches();
        double sum = 0;
        for (int i = 0; i < n; i += chunk) {
            int to = Math.min(n, i + chunk);
            int[] prefix = new int[to - i];
            for (int r = 0; r < prefix.length; r++) {
                prefix[r] = 1 + PairBatches.draw(seed ^ 0x56414CL, 0, i + r, patches - 1);
            }
            sum += model.aimLoss(pixels.get(new NDIndex("{}:{}", i, to)), prefix).toType(DataType.FLOAT64, false)
                    .getDouble() * (to - i);
        }
        return sum / n;
    }

    /** loss.png, retrieval.png (contrastive), lr.png, logit-scale.png (contrastive), grad-norm.png. */
    static void plots(Path plots, MetricsLog metrics) {
        Map<String, List<double[]>> loss = new LinkedHashMap<>();
        loss.put("train", metrics.series("loss"));
        loss.put("validation", metrics.series("valLoss"));
        Plots.lines(plots.resolve("loss.png"), "loss", "objective loss", loss, true);
        if (!metrics.series("retrieval/t2i@1").isEmpty()) {
            Map<String, List<double[]>> r = new LinkedHashMap<>();
            for (int k : KS) {
                r.put("image→text R@" + k, metrics.series("retrieval/i2t@" + k));
                r.put("text→image R@" + k, metrics.series("retrieval/t2i@" + k));
            }
            r.put("chance image→text R@1", metrics.series("retrieval/chance/i2t@1"));
            r.put("chance text→image R@1", metrics.series("retrieval/chance/t2i@1"));
            Plots.lines(plots.resolve("retrieval.png"), "zero-shot retrieval on held-out pairs", "recall", r, false);
        }
        Plots.lines(plots.resolve("lr.png"), "learning rate", "LR", Map.of("lr", metrics.series("lr")), false);
        if (!metrics.series("logitScale").isEmpty()) {
            Plots.lines(plots.resolve("logit-scale.png"), "learned logit scale exp(t) (CLIP clamps at 100)",
                    "scale", Map.of("logitScale", metrics.series("logitScale")), false);
        }
        Plots.lines(plots.resolve("grad-norm.png"), "gradient norm (before clipping)", "global L2 norm",
                Map.of("gradNorm", metrics.series("gradNorm")), true);
    }
}
