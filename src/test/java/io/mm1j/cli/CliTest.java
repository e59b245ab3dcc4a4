package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.TestSupport;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliTest {
    @TempDir
    Path tmp;

    /** Exit code, stdout and stderr of one CLI invocation. */
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        io.mm1j.TestSupport.CliRun r = io.mm1j.TestSupport.cli(args);
        return new Result(r.code(), r.out(), r.err());
    }

    @Test
    void infoJsonHasTheDocumentedKeys() throws Exception {
        Result r = run("info", "--preset", "mm1-3b-moe", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        for (String k : new String[] {"total", "nonEmbedding", "active", "llm", "vision"}) {
            assertTrue(j.get("params").get(k).asLong() > 0, "params." + k);
        }
        assertTrue(j.get("params").get("total").asLong() > j.get("params").get("active").asLong());
        assertTrue(j.get("lr").get("peak").asDouble() > 0);
        assertEquals(0.1 * j.get("lr").get("peak").asDouble(), j.get("lr").get("weightDecay").asDouble(), 1e-15);
        assertEquals(j.get("params").get("total").asLong() * 2, j.get("memory").get("weightsBf16Bytes").asLong());
        // MoE trains with its dense backbone's hyper-parameters: same peak LR as mm1-3b
        JsonNode dense = new ObjectMapper().readTree(run("info", "--preset", "mm1-3b", "--json").out());
        assertEquals(dense.get("lr").get("peak").asDouble(), j.get("lr").get("peak").asDouble(), 0);
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"demo", "info", "init", "generate", "eval", "score", "tokenizer", "data",
            "bench"}) {
            Result r = run(cmd, "--help");
            assertEquals(0, r.code(), cmd);
            assertTrue(r.out().contains("Usage: mm1 " + cmd), cmd + " help: " + r.out());
        }
        assertEquals(0, run("--help").code());
        for (String[] sub : new String[][] {{"bench", "gemm"}, {"bench", "decode"}, {"bench", "train-step"},
            {"bench", "vision"}, {"bench", "data"}, {"bench", "eval"}, {"bench", "tokenizer"}, {"data", "synth"},
            {"data", "check"}, {"tokenizer", "train"}, {"score", "captions"}, {"score", "vqa"}}) {
            Result r = run(sub[0], sub[1], "--help");
            assertEquals(0, r.code(), String.join(" ", sub));
            assertTrue(r.out().contains("Usage: mm1 " + sub[0] + " " + sub[1]), String.join(" ", sub) + ": " + r.out());
        }
    }

    @Test
    void missingModelFolderIsOneLineErrorWithoutStackTrace() {
        Path none = tmp.resolve("nope");
        Result r = run("generate", "--model", none.toString(), "--prompt", "hi");
        assertEquals(1, r.code());
        assertEquals("mm1: error: model folder not found: " + none + "\n", r.err());
        assertFalse(r.err().contains("\tat "));
    }

    @Test
    void truncatedWeightsAreNamedAndVerboseShowsTheTrace() throws Exception {
        Path stories = TestSupport.sharedData("stories260k");
        Path bad = tmp.resolve("trunc");
        Files.createDirectories(bad);
        for (String f : new String[] {"config.json", "tokenizer.json"}) {
            Files.copy(stories.resolve(f), bad.resolve(f));
        }
        byte[] w = Files.readAllBytes(stories.resolve("model.safetensors"));
        Files.write(bad.resolve("model.safetensors"), java.util.Arrays.copyOf(w, w.length / 2));
        Result r = run("generate", "--model", bad.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("mm1: error: " + bad.resolve("model.safetensors") + ": tensor '"), r.err());
        assertTrue(r.err().contains("lie outside the data section"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        Result v = run("generate", "--model", bad.toString(), "--verbose");
        assertTrue(v.err().contains("\tat io.mm1j."), "stack trace with --verbose");
    }

    @Test
    void generatePrintsOnlyTheStory() {
        Path stories = TestSupport.sharedData("stories260k");
        Result r = run("generate", "--model", stories.toString(), "--prompt", "", "--max-tokens", "30",
                "--temperature", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Once upon a time, there was a little girl named Lily."), r.out());
    }

    @Test
    void sampledGenerationIsReproducibleForASeed() {
        Path stories = TestSupport.sharedData("stories260k");
        String[] args = {"generate", "--model", stories.toString(), "--prompt", "Tom had a dog", "--max-tokens", "40",
            "--temperature", "0.9", "--top-p", "0.9", "--seed", "3"};
        Result a = run(args);
        Result b = run(args);
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out());
        assertTrue(a.out().length() > 20, a.out());
    }

    @Test
    void invalidSamplingOptionsAreRejected() {
        Path stories = TestSupport.sharedData("stories260k");
        Result r = run("generate", "--model", stories.toString(), "--top-p", "1.5");
        assertEquals(1, r.code());
        assertEquals("mm1: error: --top-p must be within (0, 1], got 1.5\n", r.err());
    }
}
