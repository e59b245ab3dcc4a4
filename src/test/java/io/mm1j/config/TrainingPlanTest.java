package io.mm1j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import org.junit.jupiter.api.Test;

class TrainingPlanTest {
    @Test
    void zeroStagesShardOptimizerStatesThenGradientsThenWeights() {
        // Ψ = 1000 over 3 GPUs: 2Ψ = 2000 → ⌈2000/3⌉ = 667; 12Ψ = 12000 → 4000
        assertEquals(new TrainingPlan.ModelStates(2000, 2000, 12000), TrainingPlan.modelStates("ddp", 1000, 3));
        assertEquals(new TrainingPlan.ModelStates(2000, 2000, 4000), TrainingPlan.modelStates("zero1", 1000, 3));
        assertEquals(new TrainingPlan.ModelStates(2000, 667, 4000), TrainingPlan.modelStates("zero2", 1000, 3));
        assertEquals(new TrainingPlan.ModelStates(667, 667, 4000), TrainingPlan.modelStates("zero3", 1000, 3));
        assertEquals(16_000, TrainingPlan.modelStates("ddp", 1000, 1).total()); // ZeRO §3.1: 16Ψ bytes
    }

    @Test
    void mm1ThirtyBOnSixtyFourGpusMatchesHandComputedNumbers() throws Exception {
        TestSupport.CliRun r = TestSupport.cli("info", "--preset", "mm1-30b", "--plan", "--gpus", "64", "--gpu-mem",
                "80", "--micro-batch", "1", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode p = Presets.JSON.readTree(r.out()).get("plan");
        long psi = 33_238_784_384L; // params.total of mm1-30b (LLM + ViT-H + C-Abstractor)
        assertEquals(psi, p.get("psi").asLong());
        // 16Ψ; 4Ψ + ⌈12Ψ/64⌉; 2Ψ + ⌈2Ψ/64⌉ + ⌈12Ψ/64⌉; 2⌈2Ψ/64⌉ + ⌈12Ψ/64⌉
        assertEquals(531_820_550_144L, p.get("ddp").get("modelStatesBytesPerGpu").asLong());
        assertEquals(139_187_409_608L, p.get("zero1").get("modelStatesBytesPerGpu").asLong());
        assertEquals(73_748_552_852L, p.get("zero2").get("modelStatesBytesPerGpu").asLong());
        assertEquals(8_309_696_096L, p.get("zero3").get("modelStatesBytesPerGpu").asLong());
        assertEquals(512L * 4096, p.get("tokensPerStep").asLong());
        assertEquals(8, p.get("perGpuBatch").asInt());
        assertEquals(8, p.get("accumulationSteps").asInt());
        // PaLM: 6·(32,102,959,616 non-embedding + 32000·6656 head) + 12·60·4096·52·128 = 213,525,052,416 per token;
        // × 2,097,152 tokens ÷ (64 · 989e12 · 0.4) = 17.6865 s
        assertEquals(213_525_052_416.0 * 2_097_152, p.get("flopsPerStep").asDouble(), 1e3);
        assertEquals(17.6865, p.get("stepSeconds").asDouble(), 1e-4);
        // activations at micro-batch 1 in bf16 (the memory model of mm1 info, 2 bytes a value)
        LlmConfig llm = Presets.load("mm1-30b").llm();
        long acts = MemoryModel.training(llm, 1, 1, 4096, 2, false).activations();
        long actsRecompute = MemoryModel.training(llm, 1, 1, 4096, 2, true).activations();
        assertEquals(acts, p.get("activationsBytesPerGpu").asLong());
        assertEquals(actsRecompute, p.get("activationsRecomputeBytesPerGpu").asLong());
        assertEquals(8_309_696_096L + actsRecompute, p.get("zero3").get("totalRecomputeBytesPerGpu").asLong());
        // 80 GiB = 85,899,345,920 bytes: only full sharding with recomputation fits
        assertTrue(p.get("zero3").get("fitsWithRecompute").asBoolean());
        assertFalse(p.get("zero3").get("fits").asBoolean());
        assertFalse(p.get("zero2").get("fitsWithRecompute").asBoolean());
        assertFalse(p.get("ddp").get("fitsWithRecompute").asBoolean());
    }

    @Test
    void unevenBatchIsAClearError() {
        TestSupport.CliRun r = TestSupport.cli("info", "--preset", "mm1-30b", "--plan", "--gpus", "48");
        assertEquals(1, r.code());
        assertEquals("mm1: error: plan: --global-batch 512 does not split evenly over --gpus 48", r.err().strip());
    }
}
