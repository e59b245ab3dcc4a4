package io.mm1j.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * CIDEr-D as coco-caption's {@code cider_scorer.py} (with the zero-norm guard of pycocoevalcap): every 1..4-gram
 * is weighted by tf·idf with idf = log(#images) − log(max(1, df)), df counting the images whose references contain
 * the n-gram — only the references of the evaluated set, which is why scores depend on the set. Per order n, the
 * candidate vector is clipped by the reference vector (min(h, r)·r), divided by both norms, and multiplied by the
 * Gaussian length penalty exp(−Δ²/(2σ²)) with σ = 6; the orders are averaged, then the references, then ×10.
 * As in the official code, the "length" in Δ is the number of bigrams (words − 1), not the number of words.
 *
 * <p>Follows salaniz/pycocoevalcap at ad63453 (2020-11-18; {@code cider/cider_scorer.py} last changed at f8b2554),
 * the Python 3 port of tylin/coco-caption 3a9afb2's scorer; {@code EvalBenchTest} checks 5,000 images against it.
 */
public final class CiderD {
    static final double SIGMA = 6.0;

    private CiderD() {}

    /** Mean of {@link #perImage} over the images (corpus score as coco-caption reports it). */
    public static double score(List<List<String>> candidates, List<List<List<String>>> references) {
        return java.util.Arrays.stream(perImage(candidates, references)).average().orElse(0);
    }

    public static double[] perImage(List<List<String>> candidates, List<List<List<String>>> references) {
        int images = candidates.size();
        Ngrams index = new Ngrams();
        List<Ngrams.Counts> cands = new ArrayList<>(images);
        List<List<Ngrams.Counts>> refs = new ArrayList<>(images);
        for (int i = 0; i < images; i++) {
            List<Ngrams.Counts> rs = new ArrayList<>();
            for (List<String> r : references.get(i)) {
                rs.add(index.count(r));
            }
            refs.add(rs);
        }
        int refGrams = index.size();
        for (List<String> c : candidates) {
            cands.add(index.count(c));
        }
        double[] logDf = documentFrequencies(refs, refGrams);
        double logImages = Math.log(images);
        double[] scores = new double[images];
        for (int i = 0; i < images; i++) {
            Vec h = new Vec(cands.get(i), logDf, logImages);
            double sum = 0;
            for (Ngrams.Counts r : refs.get(i)) {
                sum += similarity(h, new Vec(r, logDf, logImages));
            }
            scores[i] = sum / Ngrams.MAX_N / refs.get(i).size() * 10.0;
        }
        return scores;
    }

    /** log(max(1, df)) for every n-gram id seen in the references (candidate-only ids have df 0, log 1 = 0). */
    private static double[] documentFrequencies(List<List<Ngrams.Counts>> refs, int refGrams) {
        int[] df = new int[refGrams];
        int[] lastImage = new int[refGrams];
        java.util.Arrays.fill(lastImage, -1);
        for (int i = 0; i < refs.size(); i++) {
            for (Ngrams.Counts r : refs.get(i)) {
                for (int[] ids : r.ids()) {
                    for (int id : ids) {
                        if (lastImage[id] != i) { // count each image once per n-gram
                            lastImage[id] = i;
                            df[id]++;
                        }
                    }
                }
            }
        }
        double[] logDf = new double[refGrams];
        for (int id = 0; id < refGrams; id++) {
            logDf[id] = Math.log(Math.max(1, df[id]));
        }
        return logDf;
    }

    /** Sum over orders of the clipped, normalised, length-penalised cosine between candidate and one reference. */
    private static double similarity(Vec h, Vec r) {
        double delta = h.length - r.length;
        double penalty = Math.exp(-(delta * delta) / (2 * SIGMA * SIGMA));
        double total = 0;
        for (int n = 0; n < Ngrams.MAX_N; n++) {
            int[] hi = h.counts.ids()[n];
            int[] ri = r.counts.ids()[n];
            double val = 0;
            for (int a = 0, b = 0; a < hi.length && b < ri.length; ) {
                if (hi[a] < ri[b]) {
                    a++;
                } else if (hi[a] > ri[b]) {
                    b++;
                } else {
                    val += Math.min(h.weights[n][a], r.weights[n][b]) * r.weights[n][b];
                    a++;
                    b++;
                }
            }
            if (h.norms[n] != 0 && r.norms[n] != 0) {
                val /= h.norms[n] * r.norms[n];
            }
            total += val * penalty;
        }
        return total;
    }

    /** A caption's tf-idf weights per order, their L2 norms, and its bigram count (CIDEr's "length"). */
    private static final class Vec {
        final Ngrams.Counts counts;
        final double[][] weights = new double[Ngrams.MAX_N][];
        final double[] norms = new double[Ngrams.MAX_N];
        final int length;

        Vec(Ngrams.Counts counts, double[] logDf, double logImages) {
            this.counts = counts;
            for (int n = 0; n < Ngrams.MAX_N; n++) {
                int[] ids = counts.ids()[n];
                weights[n] = new double[ids.length];
                double sq = 0;
                for (int j = 0; j < ids.length; j++) {
                    double idf = logImages - (ids[j] < logDf.length ? logDf[ids[j]] : 0.0);
                    weights[n][j] = counts.counts()[n][j] * idf;
                    sq += weights[n][j] * weights[n][j];
                }
                norms[n] = Math.sqrt(sq);
            }
            this.length = counts.total(1);
        }
    }
}
