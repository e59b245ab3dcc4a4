package io.mm1j.ablate;

import java.util.List;

/**
 * The rule that marks an MM1 lesson <b>reproduced</b>, <b>not reproduced</b> or <b>inconclusive</b> from bootstrap
 * intervals of differences (paired over seeds and eval items, {@link Bootstrap#difference}); the report states it.
 *
 * <ul>
 *   <li>"A beats B" claims: the 95% interval of A − B (the sign flipped where lower is better) lies above 0 →
 *       reproduced; lies below 0 → not reproduced (the opposite holds); contains 0 → inconclusive.</li>
 *   <li>"A and B hardly differ" claims (connector type): every pair's interval lies inside ±{@code margin} →
 *       reproduced; some pair's interval lies entirely outside ±{@code margin} → not reproduced; otherwise
 *       inconclusive — also when no configuration's own interval lies above the margin (nothing was learned that a
 *       difference could show; the report judges this, see {@code AblationReport}).</li>
 * </ul>
 * A lesson made of several claims is reproduced when all are, not reproduced when any is, and inconclusive
 * otherwise.
 */
public enum Verdict {
    REPRODUCED("reproduced"), NOT_REPRODUCED("not reproduced"), INCONCLUSIVE("inconclusive");

    private final String words;

    Verdict(String words) {
        this.words = words;
    }

    public String words() {
        return words;
    }

    /** "A beats B": {@code diff} is the interval of A − B, oriented so that positive means A is better. */
    public static Verdict better(Bootstrap.Interval diff) {
        return diff.above(0) ? REPRODUCED : diff.below(0) ? NOT_REPRODUCED : INCONCLUSIVE;
    }

    /** "They hardly differ": the pairwise difference intervals against an equivalence margin. */
    public static Verdict equivalent(List<Bootstrap.Interval> pairs, double margin) {
        boolean allInside = true;
        for (Bootstrap.Interval d : pairs) {
            if (d.lo() > margin || d.hi() < -margin) {
                return NOT_REPRODUCED;
            }
            allInside &= d.lo() >= -margin && d.hi() <= margin;
        }
        return allInside ? REPRODUCED : INCONCLUSIVE;
    }

    /** All claims of one lesson together. */
    public static Verdict all(List<Verdict> claims) {
        if (claims.contains(NOT_REPRODUCED)) {
            return NOT_REPRODUCED;
        }
        return claims.stream().allMatch(v -> v == REPRODUCED) && !claims.isEmpty() ? REPRODUCED : INCONCLUSIVE;
    }

    /** The rule as the report prints it. */
    public static String rule(double margin) {
        return "Every number is a mean over seeds with a 95% two-stage percentile bootstrap interval (" 
                + Bootstrap.RESAMPLES + " replicates: seeds drawn with replacement, then each seed's eval items "
                + "drawn with replacement). A claim \"A beats B\" is **reproduced** when the interval of A − B "
                + "(paired: the same seeds and items for both) lies above 0, **not reproduced** when it lies below 0 "
                + "(the opposite holds) and **inconclusive** when it contains 0. A claim \"A and B hardly differ\" is "
                + "**reproduced** when every pair's interval lies inside ±" + margin + " points, **not reproduced** "
                + "when one lies entirely outside, **inconclusive** otherwise — and inconclusive too when no "
                + "configuration's own interval lies above " + margin + " (nothing learned to compare). A lesson with several claims is "
                + "reproduced when all are, not reproduced when any is not.";
    }
}
