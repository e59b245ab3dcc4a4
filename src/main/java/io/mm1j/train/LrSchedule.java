package io.mm1j.train;

import io.mm1j.Mm1Exception;

/**
 * MM1's pre-training schedule (MM1_SPEC.md §2) as a pure function of the step: linear warm-up to the peak, then
 * cosine decay to {@code minRatio}·peak at the run's last step. Steps count completed optimizer steps from 1, so
 * {@code lr(1)} is the first update's rate and {@code lr(totalSteps)} the last.
 *
 * @param peak        peak learning rate η
 * @param warmupSteps steps of linear warm-up (MM1: 2000)
 * @param totalSteps  the run's total optimizer steps (the schedule is defined over all of them, also when a run
 *                    is stopped early and resumed)
 * @param minRatio    final LR as a fraction of the peak (MM1: 0.1)
 */
public record LrSchedule(double peak, int warmupSteps, int totalSteps, double minRatio) {
    public LrSchedule {
        if (!(peak > 0) || Double.isInfinite(peak)) {
            throw new Mm1Exception("optim.lr must be > 0, got " + peak);
        }
        if (warmupSteps < 0) {
            throw new Mm1Exception("optim.warmup_steps must be >= 0, got " + warmupSteps);
        }
        if (totalSteps < 1) {
            throw new Mm1Exception("train.steps must be >= 1, got " + totalSteps);
        }
        if (!(minRatio >= 0 && minRatio <= 1)) {
            throw new Mm1Exception("optim.min_lr_ratio must be within [0, 1], got " + minRatio);
        }
    }

    /** The learning rate of optimizer step {@code step} (1-based). */
    public double lr(long step) {
        // phase 1: linear warm-up (step 1 gets peak/warmup, step = warmup gets the peak)
        if (step <= warmupSteps) {
            return peak * step / warmupSteps;
        }
        // phase 2: cosine from the peak (just after warm-up) to minRatio·peak (at the last step)
        long decaySteps = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (double) (step - warmupSteps) / decaySteps);
        double cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
        return peak * (minRatio + (1 - minRatio) * cosine);
    }

    /**
     * The start-up warning when {@code optim.warmup_steps} is set to {@code train.steps} or more: the whole run is
     * linear warm-up and the cosine decay never starts. Allowed (a smoke run may be all warm-up), but rarely meant.
     * Null otherwise, and for a null {@code optim.warmup_steps} (derived from the steps, always shorter but for a
     * 1-step run).
     */
    public static String allWarmupWarning(RunConfig rc) {
        com.fasterxml.jackson.databind.JsonNode w = rc.node("optim.warmup_steps");
        if (w.isNull() || w.isMissingNode() || rc.integer("optim.warmup_steps") < rc.integer("train.steps")) {
            return null;
        }
        return "optim.warmup_steps=" + rc.integer("optim.warmup_steps") + " is not below train.steps="
                + rc.integer("train.steps") + ": the whole run is linear warm-up and the LR never decays (lower "
                + "optim.warmup_steps unless this is a smoke run)";
    }

    /** Warm-up when {@code optim.warmup_steps} is null: a tenth of the run, at most this many steps. */
    public static final int DEFAULT_WARMUP = 100;

    /**
     * {@code optim.warmup_steps} of a run, or when it is null a tenth of {@code train.steps} capped at
     * {@link #DEFAULT_WARMUP} (so that a short run still reaches its peak LR; from 1,000 steps on, 100).
     */
    public static int warmupSteps(RunConfig rc) {
        com.fasterxml.jackson.databind.JsonNode w = rc.node("optim.warmup_steps");
        if (w.isNull() || w.isMissingNode()) {
            return Math.min(DEFAULT_WARMUP, Math.max(1, rc.integer("train.steps") / 10));
        }
        return rc.integer("optim.warmup_steps");
    }
}
