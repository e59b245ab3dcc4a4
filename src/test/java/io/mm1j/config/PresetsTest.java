package io.mm1j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import io.mm1j.train.LrLaw;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PresetsTest {
    private static void within(double expected, double actual, double tolerance, String what) {
        assertTrue(Math.abs(actual / expected - 1) <= tolerance,
                what + ": " + actual + " not within ±" + tolerance * 100 + "% of " + expected);
    }

    @Test
    void everyPresetLoadsAndRoundTripsThroughJson() throws Exception {
        for (String name : Presets.NAMES) {
            Mm1Config c = Presets.load(name);
            assertEquals(name, c.name());
            assertEquals(c, Presets.JSON.readValue(Presets.toJson(c), Mm1Config.class), name);
        }
    }

    @Test
    void llmSizesLandWithinTenPercentOfTheirNames() {
        Map<String, Double> named = Map.of("ablation-1.2b", 1.2e9, "mm1-3b", 3e9, "mm1-7b", 7e9, "mm1-30b", 30e9,
                "mm1-3b-moe", 3e9, "mm1-7b-moe", 7e9);
        named.forEach((preset, size) -> {
            LlmConfig llm = Presets.load(preset).llm();
            // MoE presets are named after their dense backbone (MM1 §3.3): count it without experts.
            LlmConfig backbone = llm.withMoe(null);
            within(size, ParamCount.llm(backbone).total(), 0.10, preset);
        });
    }

    @Test
    void moePresetsFollowMm1() {
        MoeConfig m3 = Presets.load("mm1-3b-moe").llm().moe();
        assertEquals(64, m3.numExperts());
        assertEquals(2, m3.every());
        assertEquals(2, m3.topK());
        assertEquals(0.01, m3.balanceCoef());
        assertEquals(0.001, m3.zLossCoef());
        MoeConfig m7 = Presets.load("mm1-7b-moe").llm().moe();
        assertEquals(32, m7.numExperts());
        assertEquals(4, m7.every());
        LlmConfig c = Presets.load("mm1-3b-moe").llm();
        ParamCount.Llm p = ParamCount.llm(c);
        assertTrue(p.total() > 10 * p.active() / 2, "64 experts make the total far larger than the active count");
        // active = dense backbone + one extra expert (top-2 vs the single dense FFN) + router, per MoE layer
        long dense = ParamCount.llm(c.withMoe(null)).total();
        long perLayerExtra = 3L * c.hiddenSize() * c.intermediateSize() + (long) c.hiddenSize() * 64;
        assertEquals(dense + 16 * perLayerExtra, p.active());
    }

    @Test
    void visionEncodersMatchTheRealModels() {
        within(304e6, ParamCount.vision(Presets.load("ablation-1.2b").vision()), 0.05, "ViT-L/14 336");
        VisionConfig h = Presets.load("mm1-3b").vision();
        within(632e6, ParamCount.vision(h), 0.05, "ViT-H/14 378");
        assertEquals(729, h.numPatches());
    }

    @Test
    void lrLawReproducesThePapersPredictions() {
        // The paper quotes its predictions to one significant figure (6e-5, 4e-5, 2e-5): 2.2e-5 rounds to 2e-5.
        within(6e-5, LrLaw.MM1.peakLr(3e9), 0.05, "3B");
        within(4e-5, LrLaw.MM1.peakLr(7e9), 0.10, "7B");
        within(2e-5, LrLaw.MM1.peakLr(30e9), 0.125, "30B");
        assertEquals(0.1 * LrLaw.MM1.peakLr(1e8), LrLaw.MM1.weightDecay(1e8), 1e-18);
        // η = exp(−0.4214 ln N − 0.5535) exactly
        assertEquals(Math.exp(-0.4214 * Math.log(85e6) - 0.5535), LrLaw.MM1.peakLr(85e6), 1e-18);
    }

    @Test
    void unknownPresetAndBadConfigsGiveClearErrors() {
        assertEquals("unknown preset 'mm1-9b'; known presets: tiny-test, mini, ablation-1.2b, mm1-3b, mm1-7b, "
                + "mm1-30b, mm1-3b-moe, mm1-7b-moe", assertThrows(Mm1Exception.class,
                () -> Presets.load("mm1-9b")).getMessage());
        assertEquals("llm.numKvHeads (3) must divide numHeads (4)", assertThrows(Mm1Exception.class,
                () -> LlmConfig.llama(10, 8, 8, 1, 4, 3, 8, false)).getMessage());
        assertEquals("moe.topK must be within [1, numExperts=4], got 5", assertThrows(Mm1Exception.class,
                () -> new MoeConfig(4, 5, 1, 0, 0.01, 0.001, 0)).getMessage());
    }
}
