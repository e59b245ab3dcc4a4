package io.mm1j.ablate;

import io.mm1j.Mm1Exception;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;

/**
 * Two-stage (hierarchical) percentile bootstrap over seeds <em>and</em> evaluation items, the interval the ablation
 * report puts beside every mean: each replicate draws the seeds with replacement, then, within each drawn seed, the
 * items of every group with replacement, and recomputes the statistic. Seed-to-seed variation (training noise) and
 * item-to-item variation (a finite eval set) both widen the interval.
 *
 * <p>Scores are {@code [seed][group][item]}: a group is one item set (the captions at 4 shots, the VQA questions at
 * 0 shots, the text documents) and its value is {@code transform(Σ num / Σ den)} — a plain mean with {@code den = 1}
 * and the identity, or a perplexity with per-document NLL sums, token counts and {@code exp}. A seed's statistic
 * is the mean of its groups' values; the statistic is the mean over seeds.
 */
public final class Bootstrap {
    /** Replicates drawn for every interval. */
    public static final int RESAMPLES = 2000;

    /** A point estimate with its 95% percentile interval. */
    public record Interval(double mean, double lo, double hi) {
        public boolean above(double x) {
            return lo > x;
        }

        public boolean below(double x) {
            return hi < x;
        }
    }

    /** Scores of one configuration: {@code num[seed][group][item]}, {@code den} the same shape (null = all 1). */
    public record Scores(double[][][] num, double[][][] den, DoubleUnaryOperator transform) {
        public Scores {
            if (num.length == 0) {
                throw new Mm1Exception("bootstrap: no seeds");
            }
            for (int s = 0; s < num.length; s++) {
                if (num[s].length != num[0].length) {
                    throw new Mm1Exception("bootstrap: seed " + s + " has " + num[s].length + " groups, seed 0 has "
                            + num[0].length);
                }
                for (int g = 0; g < num[s].length; g++) {
                    if (num[s][g].length == 0) {
                        throw new Mm1Exception("bootstrap: seed " + s + ", group " + g + " has no items");
                    }
                    if (den != null && den[s][g].length != num[s][g].length) {
                        throw new Mm1Exception("bootstrap: seed " + s + ", group " + g + ": " + num[s][g].length
                                + " numerators but " + den[s][g].length + " denominators");
                    }
                }
            }
        }

        /** Plain means of per-item scores. */
        public static Scores means(double[][][] scores) {
            return new Scores(scores, null, DoubleUnaryOperator.identity());
        }

        int seeds() {
            return num.length;
        }

        /** The statistic on one resample ({@code seeds[i]} drawn seed, {@code items[i][g]} its item indices). */
        double statistic(int[] seeds, int[][][] items) {
            double total = 0;
            for (int i = 0; i < seeds.length; i++) {
                int s = seeds[i];
                double sum = 0;
                for (int g = 0; g < num[s].length; g++) {
                    double n = 0;
                    double d = 0;
                    for (int j : items[i][g]) {
                        n += num[s][g][j];
                        d += den == null ? 1 : den[s][g][j];
                    }
                    sum += transform.applyAsDouble(n / d);
                }
                total += sum / num[s].length;
            }
            return total / seeds.length;
        }

        /** The statistic on the data as observed. */
        public double point() {
            int[] seeds = new int[seeds()];
            int[][][] items = new int[seeds()][][];
            for (int s = 0; s < seeds(); s++) {
                seeds[s] = s;
                items[s] = new int[num[s].length][];
                for (int g = 0; g < num[s].length; g++) {
                    int n = num[s][g].length;
                    items[s][g] = new int[n];
                    for (int j = 0; j < n; j++) {
                        items[s][g][j] = j;
                    }
                }
            }
            return statistic(seeds, items);
        }

        /** True when {@code o} has the same seeds, groups and item counts (so resamples can be paired). */
        boolean sameShape(Scores o) {
            if (o.num.length != num.length) {
                return false;
            }
            for (int s = 0; s < num.length; s++) {
                if (o.num[s].length != num[s].length) {
                    return false;
                }
                for (int g = 0; g < num[s].length; g++) {
                    if (o.num[s][g].length != num[s][g].length) {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    private Bootstrap() {}

    /** The mean over seeds with its interval. */
    public static Interval interval(Scores x, long rngSeed) {
        SplittableRandom rnd = new SplittableRandom(rngSeed);
        double[] reps = new double[RESAMPLES];
        for (int r = 0; r < RESAMPLES; r++) {
            Draw d = draw(x, rnd);
            reps[r] = x.statistic(d.seeds, d.items);
        }
        return percentile(x.point(), reps);
    }

    /**
     * {@code a − b} with its interval. When both have the same shape (the same eval items under the same seeds, as
     * in an ablation where every configuration sees the same held-out set) the resamples are paired: one draw of
     * seeds and items serves both, so what the two share cancels. Otherwise each is resampled on its own.
     */
    public static Interval difference(Scores a, Scores b, long rngSeed) {
        SplittableRandom rnd = new SplittableRandom(rngSeed);
        boolean paired = a.sameShape(b);
        double[] reps = new double[RESAMPLES];
        for (int r = 0; r < RESAMPLES; r++) {
            Draw da = draw(a, rnd);
            Draw db = paired ? da : draw(b, rnd);
            reps[r] = a.statistic(da.seeds, da.items) - b.statistic(db.seeds, db.items);
        }
        return percentile(a.point() - b.point(), reps);
    }

    private record Draw(int[] seeds, int[][][] items) {}

    private static Draw draw(Scores x, SplittableRandom rnd) {
        int n = x.seeds();
        int[] seeds = new int[n];
        int[][][] items = new int[n][][];
        for (int i = 0; i < n; i++) {
            int s = rnd.nextInt(n);
            seeds[i] = s;
            items[i] = new int[x.num[s].length][];
            for (int g = 0; g < x.num[s].length; g++) {
                int m = x.num[s][g].length;
                int[] pick = new int[m];
                for (int j = 0; j < m; j++) {
                    pick[j] = rnd.nextInt(m);
                }
                items[i][g] = pick;
            }
        }
        return new Draw(seeds, items);
    }

    /** 2.5th and 97.5th percentiles (linear interpolation between order statistics, numpy's default). */
    static Interval percentile(double point, double[] reps) {
        double[] s = reps.clone();
        Arrays.sort(s);
        return new Interval(point, quantile(s, 0.025), quantile(s, 0.975));
    }

    static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
