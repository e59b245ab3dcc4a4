package io.mm1j.eval;

import java.util.List;

/**
 * ROUGE-L as coco-caption's {@code rouge.py}: per image, the longest common subsequence with each reference gives a
 * precision (LCS / candidate length) and a recall (LCS / reference length); the maxima over references (taken
 * separately) combine into F = (1 + β²)·P·R / (R + β²·P) with β = 1.2; the score is the mean over images.
 * rouge.py splits on a single space, so an empty caption counts as one empty token, which is kept here.
 *
 * <p>Follows salaniz/pycocoevalcap at ad63453 ({@code rouge/rouge.py} last changed at 5c85f15, the Python 3 port of
 * tylin/coco-caption 3a9afb2's); {@code EvalBenchTest} checks 500 images against it.
 */
public final class RougeL {
    static final double BETA = 1.2;

    private RougeL() {}

    /** Mean of {@link #perImage} over the images (corpus score as coco-caption reports it). */
    public static double score(List<List<String>> candidates, List<List<List<String>>> references) {
        return java.util.Arrays.stream(perImage(candidates, references)).average().orElse(0);
    }

    public static double[] perImage(List<List<String>> candidates, List<List<List<String>>> references) {
        double[] scores = new double[candidates.size()];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = image(spaceSplit(candidates.get(i)), references.get(i));
        }
        return scores;
    }

    static double image(List<String> cand, List<List<String>> refs) {
        double precMax = 0;
        double recMax = 0;
        for (List<String> ref : refs) {
            List<String> r = spaceSplit(ref);
            int lcs = lcs(r, cand);
            precMax = Math.max(precMax, lcs / (double) cand.size());
            recMax = Math.max(recMax, lcs / (double) r.size());
        }
        if (precMax == 0 || recMax == 0) {
            return 0.0;
        }
        double b2 = BETA * BETA;
        return (1 + b2) * precMax * recMax / (recMax + b2 * precMax);
    }

    /** Length of the longest common subsequence (one rolling row of the usual table). */
    static int lcs(List<String> a, List<String> b) {
        int[] row = new int[b.size() + 1];
        for (String x : a) {
            int diag = 0;
            for (int j = 1; j <= b.size(); j++) {
                int up = row[j];
                row[j] = x.equals(b.get(j - 1)) ? diag + 1 : Math.max(row[j], row[j - 1]);
                diag = up;
            }
        }
        return row[b.size()];
    }

    private static List<String> spaceSplit(List<String> words) {
        return words.isEmpty() ? List.of("") : words;
    }
}
