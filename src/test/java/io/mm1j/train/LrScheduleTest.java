package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import org.junit.jupiter.api.Test;

class LrScheduleTest {
    /** peak 1e-3, 10 warm-up steps, 110 steps in all, min ratio 0.1: decay spans steps 11…110 (100 steps). */
    private final LrSchedule s = new LrSchedule(1e-3, 10, 110, 0.1);

    @Test
    void warmUpIsLinearFromPeakOverWarmupAtStepOne() {
        assertEquals(1e-4, s.lr(1), 1e-18); // 1e-3 · 1/10
        assertEquals(5e-4, s.lr(5), 1e-18);
        assertEquals(1e-3, s.lr(10), 1e-18); // end of warm-up: the peak
    }

    @Test
    void cosineIsHalfwayBetweenPeakAndMinimumAtMidDecay() {
        // step 60: progress (60−10)/100 = 0.5 → cosine 0.5 → 1e-3·(0.1 + 0.9·0.5) = 5.5e-4
        assertEquals(5.5e-4, s.lr(60), 1e-15);
        // step 35: progress 0.25 → 0.5·(1 + cos(π/4)) = 0.853553… → 1e-3·(0.1 + 0.9·0.853553)
        assertEquals(1e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.sqrt(0.5))), s.lr(35), 1e-15);
    }

    @Test
    void lastStepIsMinRatioTimesPeak() {
        assertEquals(1e-4, s.lr(110), 1e-18);
        assertEquals(1e-4, s.lr(500), 1e-18); // past the end it stays at the floor
    }

    @Test
    void noWarmupStartsAtThePeakAfterTheFirstDecayStep() {
        LrSchedule n = new LrSchedule(2e-3, 0, 5, 0.1);
        // step 1: progress 1/5 → 2e-3·(0.1 + 0.9·0.5·(1 + cos(π/5)))
        assertEquals(2e-3 * (0.1 + 0.45 * (1 + Math.cos(Math.PI / 5))), n.lr(1), 1e-15);
        assertEquals(2e-4, n.lr(5), 1e-18);
    }

    @Test
    void invalidSettingsAreRefusedNamingTheKey() {
        assertEquals("optim.lr must be > 0, got 0.0",
                assertThrows(Mm1Exception.class, () -> new LrSchedule(0, 1, 10, 0.1)).getMessage());
        assertEquals("train.steps must be >= 1, got 0",
                assertThrows(Mm1Exception.class, () -> new LrSchedule(1e-3, 1, 0, 0.1)).getMessage());
    }

    /** optim.warmup_steps at or above train.steps is allowed but warned (the run never decays); below it, or null, not. */
    @Test
    void warmUpCoveringTheWholeRunIsWarnedNamingBothValues() {
        assertEquals("optim.warmup_steps=200 is not below train.steps=100: the whole run is linear warm-up and the "
                + "LR never decays (lower optim.warmup_steps unless this is a smoke run)",
                LrSchedule.allWarmupWarning(config("optim.warmup_steps=200", "train.steps=100")));
        assertEquals("optim.warmup_steps=100 is not below train.steps=100: the whole run is linear warm-up and the "
                + "LR never decays (lower optim.warmup_steps unless this is a smoke run)",
                LrSchedule.allWarmupWarning(config("optim.warmup_steps=100", "train.steps=100")));
        assertEquals(null, LrSchedule.allWarmupWarning(config("optim.warmup_steps=99", "train.steps=100")));
        assertEquals(null, LrSchedule.allWarmupWarning(config("optim.warmup_steps=null", "train.steps=1")),
                "derived from the steps");
    }

    private static RunConfig config(String... sets) {
        return RunConfig.resolve(null, java.util.Map.of(), java.util.List.of(sets));
    }
}
