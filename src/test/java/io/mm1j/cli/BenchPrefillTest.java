package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import io.mm1j.io.JsonFiles;
import org.junit.jupiter.api.Test;

/** {@code mm1 bench prefill} runs end to end on a tiny shape and reports its fields (no timing assertion). */
class BenchPrefillTest {
    @Test
    void reportsThroughputMemoryAndTheComparisons() throws Exception {
        TestSupport.CliRun r = TestSupport.cli("bench", "prefill", "--shape",
                "hidden=32,intermediate=64,layers=1,heads=2,kvHeads=2,vocab=64", "--tokens", "16", "--reps", "1",
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JsonFiles.MAPPER.readTree(r.out());
        assertEquals("prefill", j.get("benchmark").asText());
        assertEquals(16, j.get("tokens").asInt());
        for (String f : new String[] {"tokensPerSecond", "stepwiseTokensPerSecond", "djlTokensPerSecond"}) {
            assertTrue(j.get(f).asDouble() > 0, f + " in " + j);
        }
        assertTrue(j.has("peakRssBytes"));
        assertFalse(j.has("ratioToLlamaCpp"), "the llama.cpp ratio is only for its shape");
        TestSupport.CliRun bad = TestSupport.cli("bench", "prefill", "--shape", "hidden=32,intermediate=64,layers=1,"
                + "heads=2,kvHeads=2,vocab=64", "--tokens", "0");
        assertEquals(1, bad.code());
        assertEquals("mm1: error: --tokens must be within [1, 1024] (the model's context), got 0\n", bad.err());
    }
}
