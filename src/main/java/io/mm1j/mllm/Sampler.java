package io.mm1j.mllm;

import io.mm1j.Mm1Exception;
import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks the next token from a row of logits. Seeded implementations only, so generation is reproducible. */
@FunctionalInterface
public interface Sampler {
    int sample(float[] logits);

    /** Greedy decoding (temperature 0); ties → lowest id, like torch.argmax. */
    Sampler ARGMAX = logits -> {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    };

    /** Greedy at temperature 0, else temperature + nucleus (top-p) sampling with a seeded generator. */
    static Sampler of(double temperature, double topP, long seed) {
        if (temperature < 0) {
            throw new Mm1Exception("--temperature must be >= 0, got " + temperature);
        }
        if (!(topP > 0) || topP > 1) {
            throw new Mm1Exception("--top-p must be within (0, 1], got " + topP);
        }
        return temperature == 0 ? ARGMAX : new TopP(temperature, topP, new SplittableRandom(seed));
    }

    /** Softmax(logits / T), keep the smallest set of tokens whose probability reaches p, sample from it. */
    record TopP(double temperature, double topP, SplittableRandom random) implements Sampler {
        @Override
        public int sample(float[] logits) {
            int n = logits.length;
            double max = Double.NEGATIVE_INFINITY;
            for (float l : logits) {
                max = Math.max(max, l);
            }
            double[] prob = new double[n];
            double sum = 0;
            for (int i = 0; i < n; i++) {
                prob[i] = Math.exp((logits[i] - max) / temperature);
                sum += prob[i];
            }
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
                prob[i] /= sum;
            }
            Arrays.sort(order, (a, b) -> Double.compare(prob[b], prob[a]));
            double cum = 0;
            int keep = 0;
            while (keep < n) {
                cum += prob[order[keep++]];
                if (cum >= topP) {
                    break;
                }
            }
            double r = random.nextDouble() * cum;
            double acc = 0;
            for (int i = 0; i < keep; i++) {
                acc += prob[order[i]];
                if (r < acc) {
                    return order[i];
                }
            }
            return order[keep - 1];
        }
    }
}
