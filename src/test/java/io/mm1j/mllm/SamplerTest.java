package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Sampling options on hand-made logits. softmax([2, 1, 0.5, -1, 0]) = [.5630, .2071, .1256, .0280, .0762] (worked
 * by hand: e^2, e^1, e^0.5, e^-1, e^0 over their sum 13.1236).
 */
class SamplerTest {
    static final float[] LOGITS = {2f, 1f, 0.5f, -1f, 0f};

    static List<Integer> survivors(GenerationConfig cfg, long... prompt) {
        float[] w = ((Sampler.Configured) Sampler.of(cfg, prompt)).filtered(LOGITS);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < w.length; i++) {
            if (w[i] != Float.NEGATIVE_INFINITY) {
                ids.add(i);
            }
        }
        return ids;
    }

    static GenerationConfig.Builder sampled() {
        return GenerationConfig.builder().temperature(1);
    }

    @Test
    void topKKeepsTheKMostLikely() {
        assertEquals(List.of(0, 1), survivors(sampled().topK(2).build()));
        assertEquals(List.of(0, 1, 2, 3, 4), survivors(sampled().topK(9).build()));
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        assertEquals(List.of(0), survivors(sampled().topP(0.5).build()), ".5630 alone reaches .5");
        assertEquals(List.of(0, 1), survivors(sampled().topP(0.77).build()), ".5630 + .2071 = .7701");
        assertEquals(List.of(0, 1, 2), survivors(sampled().topP(0.771).build()));
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheBest() {
        assertEquals(List.of(0, 1, 2), survivors(sampled().minP(0.2).build()), ".1256 ≥ .2 × .5630 = .1126");
        assertEquals(List.of(0, 1), survivors(sampled().minP(0.25).build()), ".1256 < .1408");
    }

    @Test
    void temperatureSharpensBeforeTheFilters() {
        // at T = 0.5 the probabilities are softmax([4, 2, 1, -2, 0]) = [.8390, .1135, .0418, .0021, .0154]
        assertEquals(List.of(0, 1), survivors(GenerationConfig.builder().temperature(0.5).topP(0.9).build()));
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        Sampler.Configured s = (Sampler.Configured) Sampler.of(sampled().repetitionPenalty(4).build(), new long[] {0, 3});
        float[] w = s.filtered(LOGITS);
        assertEquals(0.5f, w[0]);
        assertEquals(-4f, w[3]);
        assertEquals(1f, w[1]);
        Sampler greedy = Sampler.of(GenerationConfig.builder().repetitionPenalty(4).build(), new long[] {0});
        assertEquals(1, greedy.sample(LOGITS), "greedy sees the penalised logits: 2/4 < 1");
        assertEquals(0, greedy.sample(LOGITS), "1 is penalised once picked: 0.25 < 0.5 (ids 0 and 2 tie → 0)");
    }

    @Test
    void drawsFollowTheRenormalisedDistribution() {
        Sampler s = Sampler.of(sampled().topK(2).seed(7).build(), new long[0]);
        int[] counts = new int[LOGITS.length];
        int n = 20000;
        for (int i = 0; i < n; i++) {
            counts[s.sample(LOGITS)]++;
        }
        assertEquals(n, counts[0] + counts[1], "only the top 2 are drawn");
        assertEquals(0.7311, counts[0] / (double) n, 0.015, "e^2 / (e^2 + e^1)");
        Sampler a = Sampler.of(sampled().seed(3).build(), new long[0]);
        Sampler b = Sampler.of(sampled().seed(3).build(), new long[0]);
        for (int i = 0; i < 50; i++) {
            assertEquals(a.sample(LOGITS), b.sample(LOGITS), "a seed fixes the draws");
        }
    }

    @Test
    void invalidOptionsNameTheOption() {
        String[][] cases = {
            {"temperature must be a finite number >= 0 (0 = greedy), got NaN"},
            {"top-p must be within (0, 1], got 0.0"},
            {"min-p must be within [0, 1), got 1.0"},
            {"repetition penalty must be a finite number > 0 (1 = off), got 0.0"},
            {"max tokens must be >= 0, got -1"},
            {"top-k must be >= 0 (0 = off), got -2"},
            {"stop strings must not be empty"}};
        List<Runnable> builds = List.of(
                () -> GenerationConfig.builder().temperature(Double.NaN).build(),
                () -> GenerationConfig.builder().topP(0).build(),
                () -> GenerationConfig.builder().minP(1).build(),
                () -> GenerationConfig.builder().repetitionPenalty(0).build(),
                () -> GenerationConfig.builder().maxTokens(-1).build(),
                () -> GenerationConfig.builder().topK(-2).build(),
                () -> GenerationConfig.builder().stopStrings(List.of("")).build());
        for (int i = 0; i < cases.length; i++) {
            Mm1Exception e = assertThrows(Mm1Exception.class, builds.get(i)::run);
            assertEquals(cases[i][0], e.getMessage());
        }
    }
}
