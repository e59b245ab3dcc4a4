package io.mm1j.ablate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The two-stage bootstrap on hand-made scores whose intervals are known exactly or from theory. */
class BootstrapTest {
    @Test
    void constantItemsGiveAZeroWidthInterval() {
        Bootstrap.Interval i = Bootstrap.interval(Bootstrap.Scores.means(new double[][][] {{{7, 7, 7, 7}}}), 1);
        assertEquals(new Bootstrap.Interval(7, 7, 7), i);
    }

    @Test
    void seedsAreResampledToo() {
        // seed 0 scores 0 on every item, seed 1 scores 10: replicates are 0, 5 or 10 with probabilities ¼, ½, ¼, so
        // the 2.5th percentile is 0 and the 97.5th is 10 (items alone would give a zero-width interval)
        double[][][] x = {{{0, 0, 0}}, {{10, 10, 10}}};
        Bootstrap.Interval i = Bootstrap.interval(Bootstrap.Scores.means(x), 3);
        assertEquals(5, i.mean(), 1e-12);
        assertEquals(0, i.lo(), 1e-12);
        assertEquals(10, i.hi(), 1e-12);
    }

    @Test
    void itemResamplingMatchesTheBinomialStandardError() {
        // one seed, 400 items, half right: mean 0.5, standard error √(0.25/400) = 0.025 → 95% ≈ 0.5 ± 0.049
        double[] items = new double[400];
        for (int i = 0; i < 200; i++) {
            items[i] = 1;
        }
        Bootstrap.Interval i = Bootstrap.interval(Bootstrap.Scores.means(new double[][][] {{items}}), 11);
        assertEquals(0.5, i.mean(), 1e-12);
        assertEquals(0.451, i.lo(), 0.01);
        assertEquals(0.549, i.hi(), 0.01);
    }

    @Test
    void groupsAreAveragedWithinASeedThenOverSeeds() {
        // seed 0: groups mean 2 and 4 → 3; seed 1: groups mean 6 and 8 → 7; overall 5
        double[][][] x = {{{1, 3}, {4, 4}}, {{6, 6}, {7, 9}}};
        assertEquals(5, Bootstrap.Scores.means(x).point(), 1e-12);
    }

    @Test
    void pairedDifferencesCancelWhatBothShare() {
        double[][][] b = {{{0, 10, 3, 8, 1}}, {{9, 2, 5, 5, 0}}};
        double[][][] a = new double[2][1][5];
        for (int s = 0; s < 2; s++) {
            for (int j = 0; j < 5; j++) {
                a[s][0][j] = b[s][0][j] + 3;
            }
        }
        Bootstrap.Interval d = Bootstrap.difference(Bootstrap.Scores.means(a), Bootstrap.Scores.means(b), 5);
        assertEquals(3, d.mean(), 1e-12);
        assertEquals(3, d.lo(), 1e-12);
        assertEquals(3, d.hi(), 1e-12);
        // the same scores resampled independently (a differently shaped b) straddle a wide range
        double[][][] b2 = {{{0, 10, 3, 8}}, {{9, 2, 5, 5}}};
        Bootstrap.Interval u = Bootstrap.difference(Bootstrap.Scores.means(a), Bootstrap.Scores.means(b2), 5);
        assertTrue(u.hi() - u.lo() > 3, u.toString());
    }

    @Test
    void perplexityIsTheExpOfTheTokenWeightedMeanNll() {
        // documents with NLL sums 2 and 10 over 1 and 3 tokens: exp(12 / 4)
        Bootstrap.Scores s = new Bootstrap.Scores(new double[][][] {{{2, 10}}}, new double[][][] {{{1, 3}}},
                Math::exp);
        assertEquals(Math.exp(3), s.point(), 1e-12);
        Bootstrap.Interval i = Bootstrap.interval(s, 2);
        // replicates: both docs the first (e²), both the second (e^(10/3)) or one of each (e³)
        assertEquals(Math.exp(2), i.lo(), 1e-9);
        assertEquals(Math.exp(10.0 / 3), i.hi(), 1e-9);
    }

    @Test
    void quantilesInterpolateLinearlyAsNumpy() {
        double[] s = {0, 1, 2, 3};
        assertEquals(1.5, Bootstrap.quantile(s, 0.5), 1e-12);
        assertEquals(0.075, Bootstrap.quantile(s, 0.025), 1e-12);
        assertEquals(2.925, Bootstrap.quantile(s, 0.975), 1e-12);
    }

    @Test
    void raggedInputIsAClearError() {
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> Bootstrap.Scores.means(
                new double[][][] {{{1}}, {{1}, {2}}}));
        assertEquals("bootstrap: seed 1 has 2 groups, seed 0 has 1", e.getMessage());
        Mm1Exception empty = assertThrows(Mm1Exception.class, () -> Bootstrap.Scores.means(new double[][][] {{{}}}));
        assertEquals("bootstrap: seed 0, group 0 has no items", empty.getMessage());
    }

    @Test
    void verdictsFollowTheStatedRule() {
        assertEquals(Verdict.REPRODUCED, Verdict.better(new Bootstrap.Interval(2, 0.5, 3)));
        assertEquals(Verdict.NOT_REPRODUCED, Verdict.better(new Bootstrap.Interval(-2, -3, -0.1)));
        assertEquals(Verdict.INCONCLUSIVE, Verdict.better(new Bootstrap.Interval(1, -0.5, 3)));
        // equivalence within ±5
        assertEquals(Verdict.REPRODUCED, Verdict.equivalent(List.of(new Bootstrap.Interval(1, -4, 4.9),
                new Bootstrap.Interval(0, -1, 1)), 5));
        assertEquals(Verdict.NOT_REPRODUCED, Verdict.equivalent(List.of(new Bootstrap.Interval(0, -1, 1),
                new Bootstrap.Interval(8, 5.5, 11)), 5));
        assertEquals(Verdict.INCONCLUSIVE, Verdict.equivalent(List.of(new Bootstrap.Interval(3, -1, 7)), 5));
        // a lesson: all claims reproduced → reproduced; any not reproduced → not; otherwise inconclusive
        assertEquals(Verdict.REPRODUCED, Verdict.all(List.of(Verdict.REPRODUCED, Verdict.REPRODUCED)));
        assertEquals(Verdict.NOT_REPRODUCED, Verdict.all(List.of(Verdict.REPRODUCED, Verdict.NOT_REPRODUCED)));
        assertEquals(Verdict.INCONCLUSIVE, Verdict.all(List.of(Verdict.REPRODUCED, Verdict.INCONCLUSIVE)));
        assertEquals(Verdict.INCONCLUSIVE, Verdict.all(List.of()));
    }
}
