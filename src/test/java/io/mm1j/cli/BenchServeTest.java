package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import io.mm1j.io.JsonFiles;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 bench serve} runs end to end on a tiny model with images and reports every level (no timing check). */
class BenchServeTest {
    @TempDir
    Path tmp;

    @Test
    void reportsTtftAndTokensPerSecondPerLevel() throws Exception {
        Path dir = tmp.resolve("tiny");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString()).code());
        TestSupport.CliRun r = TestSupport.cli("bench", "serve", "--model", dir.toString(), "--clients", "1,3",
                "--requests", "2", "--max-tokens", "4", "--warm-up", "0", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JsonFiles.MAPPER.readTree(r.out());
        assertEquals("serve", j.get("benchmark").asText());
        assertEquals(1, j.get("imagesPerRequest").asInt(), "tiny-test has a vision tower");
        assertEquals(2, j.get("levels").size());
        int[] clients = {1, 3};
        for (int i = 0; i < 2; i++) {
            JsonNode l = j.get("levels").get(i);
            assertEquals(clients[i], l.get("clients").asInt());
            assertEquals(2 * clients[i], l.get("requests").asInt());
            assertTrue(l.get("completionTokens").asInt() >= 1 && l.get("completionTokens").asInt() <= 8 * clients[i],
                    l.toString());
            for (String f : new String[] {"ttftP50Ms", "ttftP95Ms", "tokensPerSecond", "aggregateTokensPerSecond"}) {
                assertTrue(l.get(f).asDouble() > 0, f + " in " + l);
            }
            assertTrue(l.get("ttftP95Ms").asDouble() >= l.get("ttftP50Ms").asDouble(), l.toString());
        }
        assertTrue(j.get("aggregateSpeedup").asDouble() > 0);
        assertEquals(1, j.get("warmUpRounds").asInt(), "--warm-up 0: one round through the levels");
        assertTrue(j.get("levels").get(1).get("jitSeconds").asDouble() >= 0);
        assertTrue(j.has("peakRssBytes"));
        TestSupport.CliRun bad = TestSupport.cli("bench", "serve", "--model", dir.toString(), "--clients", "0");
        assertEquals(1, bad.code());
        assertEquals("mm1: error: bench serve: --clients must all be >= 1, got [0]\n", bad.err());
        bad = TestSupport.cli("bench", "serve", "--model", dir.toString(), "--warm-up", "-1");
        assertEquals("mm1: error: bench serve: --warm-up must be >= 0 seconds, got -1.0\n", bad.err());
    }
}
