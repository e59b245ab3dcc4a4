package io.mm1j.eval;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Corpus BLEU-1..4 as coco-caption's {@code bleu_scorer.py} computes it with {@code option="closest"}: n-gram
 * matches clipped by the maximum count in any one reference, summed over the whole set (not averaged per image);
 * the reference length per image is the one closest to the candidate's (ties go to the shorter); the brevity
 * penalty {@code exp(1 - r/c)} applies when the summed candidate length is below the summed reference length.
 * The smoothing constants (1e-15 added to matches, 1e-9 to guesses and to the reference length) are kept so that
 * an empty or unmatched set scores (almost) 0 exactly as the official tool reports it.
 *
 * <p>Follows salaniz/pycocoevalcap at ad63453 ({@code bleu/bleu_scorer.py} last changed at f8b2554, the Python 3
 * port of tylin/coco-caption 3a9afb2's); {@code EvalBenchTest} checks BLEU-1..4 on 500 images against it.
 */
public final class Bleu {
    static final double TINY = 1e-15;
    static final double SMALL = 1e-9;

    private Bleu() {}

    /** Bleu_1..Bleu_4 for candidate word lists and, per candidate, its reference word lists. */
    public static double[] score(List<List<String>> candidates, List<List<List<String>>> references) {
        Ngrams index = new Ngrams();
        int n = Ngrams.MAX_N;
        long[] guess = new long[n];
        long[] correct = new long[n];
        long testLen = 0;
        long refLen = 0;
        for (int i = 0; i < candidates.size(); i++) {
            Ngrams.Counts cand = index.count(candidates.get(i));
            Map<Integer, Integer> maxRef = new HashMap<>();
            int closest = -1;
            for (List<String> ref : references.get(i)) {
                Ngrams.Counts r = index.count(ref);
                for (int k = 0; k < n; k++) {
                    for (int j = 0; j < r.ids()[k].length; j++) {
                        maxRef.merge(r.ids()[k][j], r.counts()[k][j], Math::max);
                    }
                }
                int d = Math.abs(r.length() - cand.length());
                int best = closest < 0 ? Integer.MAX_VALUE : Math.abs(closest - cand.length());
                if (d < best || d == best && r.length() < closest) {
                    closest = r.length();
                }
            }
            testLen += cand.length();
            refLen += closest;
            for (int k = 0; k < n; k++) {
                guess[k] += Math.max(0, cand.length() - k);
                for (int j = 0; j < cand.ids()[k].length; j++) {
                    correct[k] += Math.min(cand.counts()[k][j], maxRef.getOrDefault(cand.ids()[k][j], 0));
                }
            }
        }
        double[] bleu = new double[n];
        double ratio = (testLen + TINY) / (refLen + SMALL);
        for (int order = 1; order <= n; order++) {
            double product = 1.0;
            for (int k = 0; k < order; k++) {
                product *= (correct[k] + TINY) / (guess[k] + SMALL);
            }
            bleu[order - 1] = Math.pow(product, 1.0 / order);
            if (ratio < 1) {
                bleu[order - 1] *= Math.exp(1 - 1 / ratio);
            }
        }
        return bleu;
    }
}
