package io.mm1j.mllm;

import java.util.Arrays;
import java.util.BitSet;
import java.util.SplittableRandom;

/** Picks the next token from a row of logits. Seeded implementations only, so generation is reproducible. */
@FunctionalInterface
public interface Sampler {
    int sample(float[] logits);

    /** Greedy decoding (temperature 0); ties → lowest id, like torch.argmax. */
    Sampler ARGMAX = Sampler::argmax;

    /** Greedy at temperature 0, else temperature + nucleus (top-p) sampling with a seeded generator. */
    static Sampler of(double temperature, double topP, long seed) {
        return of(GenerationConfig.builder().temperature(temperature).topP(topP).seed(seed).build(), new long[0]);
    }

    /**
     * The sampler {@code cfg} describes for one generation. It remembers the prompt's ids and every token it picks
     * (the repetition penalty's history), so use a new one per generation.
     */
    static Sampler of(GenerationConfig cfg, long[] promptIds) {
        if (cfg.isGreedy() && cfg.repetitionPenalty() == 1) {
            return ARGMAX;
        }
        return new Configured(cfg, promptIds);
    }

    /** Index of the largest value; ties → lowest index. */
    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Hugging Face's pipeline: repetition penalty → temperature → top-k → top-p → min-p → categorical draw. Each
     * filter sets dropped logits to -∞; the draw is over softmax of what is left.
     */
    final class Configured implements Sampler {
        private final GenerationConfig cfg;
        private final SplittableRandom random;
        private final BitSet seen = new BitSet();

        Configured(GenerationConfig cfg, long[] promptIds) {
            this.cfg = cfg;
            this.random = new SplittableRandom(cfg.seed());
            for (long id : promptIds) {
                if (id >= 0 && id < Integer.MAX_VALUE) {
                    seen.set((int) id);
                }
            }
        }

        @Override
        public int sample(float[] logits) {
            float[] w = Arrays.copyOf(logits, logits.length);
            penalise(w);
            int next = cfg.isGreedy() ? argmax(w) : draw(w);
            seen.set(next);
            return next;
        }

        /** The logits after every filter (tests look at which tokens survive). */
        float[] filtered(float[] logits) {
            float[] w = Arrays.copyOf(logits, logits.length);
            penalise(w);
            if (!cfg.isGreedy()) {
                warp(w);
            }
            return w;
        }

        private void penalise(float[] w) {
            double p = cfg.repetitionPenalty();
            if (p == 1) {
                return;
            }
            for (int id = seen.nextSetBit(0); id >= 0 && id < w.length; id = seen.nextSetBit(id + 1)) {
                w[id] = (float) (w[id] > 0 ? w[id] / p : w[id] * p);
            }
        }

        private int draw(float[] w) {
            warp(w);
            float max = Float.NEGATIVE_INFINITY;
            for (float v : w) {
                max = Math.max(max, v);
            }
            double sum = 0;
            double[] p = new double[w.length];
            for (int i = 0; i < w.length; i++) {
                p[i] = w[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(w[i] - max);
                sum += p[i];
            }
            double r = random.nextDouble() * sum;
            double acc = 0;
            int last = 0;
            for (int i = 0; i < w.length; i++) {
                if (p[i] > 0) {
                    acc += p[i];
                    last = i;
                    if (r < acc) {
                        return i;
                    }
                }
            }
            return last;
        }

        /** Temperature, top-k, top-p, min-p in place. */
        private void warp(float[] w) {
            float t = (float) cfg.temperature();
            for (int i = 0; i < w.length; i++) {
                w[i] /= t;
            }
            if (cfg.topK() > 0 && cfg.topK() < w.length) {
                float[] sorted = w.clone();
                Arrays.sort(sorted);
                float kth = sorted[w.length - cfg.topK()]; // ties with the k-th are kept, as torch.topk + "<"
                for (int i = 0; i < w.length; i++) {
                    if (w[i] < kth) {
                        w[i] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
            if (cfg.topP() < 1) {
                topP(w, cfg.topP());
            }
            if (cfg.minP() > 0) {
                float max = Float.NEGATIVE_INFINITY;
                for (float v : w) {
                    max = Math.max(max, v);
                }
                // p_i < minP · p_max  ⇔  logit_i < logit_max + ln(minP)
                double cut = max + Math.log(cfg.minP());
                for (int i = 0; i < w.length; i++) {
                    if (w[i] < cut) {
                        w[i] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
        }

        /** Keeps the most likely tokens until their probability reaches p (the token that crosses p stays). */
        private static void topP(float[] w, double topP) {
            int n = 0;
            int[] idx = new int[w.length];
            for (int i = 0; i < w.length; i++) {
                if (w[i] != Float.NEGATIVE_INFINITY) {
                    idx[n++] = i;
                }
            }
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = idx[i];
            }
            Arrays.sort(order, (a, b) -> a.equals(b) ? 0 : w[b] != w[a] ? Float.compare(w[b], w[a]) : a - b);
            float max = w[order[0]];
            double sum = 0;
            double[] p = new double[n];
            for (int i = 0; i < n; i++) {
                p[i] = Math.exp(w[order[i]] - max);
                sum += p[i];
            }
            double cum = 0;
            int keep = 0;
            while (keep < n) {
                cum += p[keep++] / sum;
                if (cum >= topP) {
                    break;
                }
            }
            for (int i = keep; i < n; i++) {
                w[order[i]] = Float.NEGATIVE_INFINITY;
            }
        }
    }
}
