package io.mm1j.eval;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Interns the 1..4-grams of a caption set as ints, so that BLEU clipping and CIDEr's tf-idf cosine become merges of
 * sorted int arrays instead of hash lookups on word tuples (this is what keeps CIDEr-D on 25,000 references fast).
 * One index must serve all captions of an evaluation, since ids are only comparable within it.
 */
final class Ngrams {
    static final int MAX_N = 4;

    /** A caption's n-gram counts: for each order n (index n-1), ngram ids in ascending order and their counts. */
    record Counts(int[][] ids, int[][] counts, int length) {
        int total(int order) {
            int t = 0;
            for (int c : counts[order]) {
                t += c;
            }
            return t;
        }
    }

    private final Map<String, Integer> ids = new HashMap<>();

    int size() {
        return ids.size();
    }

    Counts count(List<String> words) {
        int[][] gramIds = new int[MAX_N][];
        int[][] gramCounts = new int[MAX_N][];
        StringBuilder key = new StringBuilder();
        for (int n = 1; n <= MAX_N; n++) {
            int m = Math.max(0, words.size() - n + 1);
            int[] raw = new int[m];
            for (int i = 0; i < m; i++) {
                key.setLength(0);
                key.append(n);
                for (int j = i; j < i + n; j++) {
                    key.append(' ').append(words.get(j)); // words never contain ' ' (they come from a split on it)
                }
                raw[i] = ids.computeIfAbsent(key.toString(), k -> ids.size());
            }
            Arrays.sort(raw);
            int distinct = 0;
            int[] u = new int[m];
            int[] c = new int[m];
            for (int i = 0; i < m; i++) {
                if (distinct > 0 && u[distinct - 1] == raw[i]) {
                    c[distinct - 1]++;
                } else {
                    u[distinct] = raw[i];
                    c[distinct++] = 1;
                }
            }
            gramIds[n - 1] = Arrays.copyOf(u, distinct);
            gramCounts[n - 1] = Arrays.copyOf(c, distinct);
        }
        return new Counts(gramIds, gramCounts, words.size());
    }
}
