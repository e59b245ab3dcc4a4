package io.mm1j.ablate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.train.RunConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The first line of the ablation report: a step time only where a probe measured one. */
class AblationReportTest {
    private static final RunConfig BASE = RunConfig.resolve(null, Map.of(), List.of("train.batch_size=2",
            "data.seq_len=64"));

    private static Ablation.Options options(int steps) {
        return new Ablation.Options(Path.of("abl"), Studies.select("connector"), 2, 30, null, List.of(), null, 8, 8,
                steps, false);
    }

    @Test
    void stepsFixedWithoutAProbeShowNoStepTimeAndNoBudget() {
        // the plan `--steps 3` writes: no probe, so no seconds per step (NaN)
        Ablation.Plan plan = new Ablation.Plan(3, Double.NaN, Double.NaN, Double.NaN, 0, 6, 6, 30, Double.NaN,
                Double.NaN, Double.NaN);
        String h = AblationReport.header(options(3), plan, BASE, 1.5);
        assertTrue(h.startsWith("Studies: connector · 2 seed(s) · 3 steps per run fixed with `--steps` (384 tokens: "
                + "batch 2 × 64 tokens) (load average 1.5 on "), h);
        assertFalse(h.contains("NaN"), h);
    }

    @Test
    void aProbedPlanShowsTheBudgetAndTheMeasuredStepTime() {
        Ablation.Plan plan = new Ablation.Plan(40, 0.5, 3, 10, 20, 6, 6, 30, 25, Double.NaN, Double.NaN);
        String h = AblationReport.header(options(0), plan, BASE, 1.5);
        assertEquals("Studies: connector · 2 seed(s) · budget 30 minutes · 40 steps per run (5,120 tokens: batch 2 × "
                + "64 tokens) · 0.50 s per base step measured (load average 1.5 on ", h.substring(0, h.indexOf("on ")
                + 3));
    }
}
