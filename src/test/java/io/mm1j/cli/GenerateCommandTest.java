package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerateCommandTest {
    @TempDir
    static Path tmp;
    static Path tiny;

    @BeforeAll
    static void init() {
        tiny = tmp.resolve("tiny");
        CliTest.Result r = CliTest.run("init", "--preset", "tiny-test", "--out", tiny.toString(), "--seed", "1");
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void aMissingModelFolderIsNamedAsSuch() {
        Path none = tmp.resolve("nope");
        CliTest.Result r = CliTest.run("generate", "--model", none.toString(), "--prompt", "hi");
        assertEquals(1, r.code());
        assertEquals("mm1: error: model folder not found: " + none + "\n", r.err());
        CliTest.Result f = CliTest.run("generate", "--model", tiny.resolve("config.json").toString());
        assertEquals("mm1: error: " + tiny.resolve("config.json") + ": not a model folder (a file)\n", f.err());
    }

    @Test
    void samplingOptionsOutsideTheirDomainAreRefused() {
        String[][] cases = {
            {"--temperature", "NaN", "--temperature must be a finite number >= 0 (0 = greedy), got NaN"},
            {"--temperature", "Infinity", "--temperature must be a finite number >= 0 (0 = greedy), got Infinity"},
            {"--temperature", "-0.5", "--temperature must be a finite number >= 0 (0 = greedy), got -0.5"},
            {"--top-p", "NaN", "--top-p must be within (0, 1], got NaN"},
            {"--top-p", "0", "--top-p must be within (0, 1], got 0.0"},
            {"--top-p", "1.5", "--top-p must be within (0, 1], got 1.5"},
            {"--max-tokens", "-1", "--max-tokens must be >= 0, got -1"},
            {"--top-k", "-1", "--top-k must be >= 0 (0 = off), got -1"},
            {"--min-p", "1", "--min-p must be within [0, 1), got 1.0"},
            {"--repetition-penalty", "0", "--repetition-penalty must be a finite number > 0 (1 = off), got 0.0"},
            {"--stop", "", "--stop must not be empty"},
            {"--max-pixels", "0", "--max-pixels must be positive, got 0"}};
        for (String[] c : cases) {
            CliTest.Result r = CliTest.run("generate", "--model", tiny.toString(), "--prompt", "hi", c[0], c[1]);
            assertEquals(1, r.code(), c[0] + " " + c[1]);
            assertEquals("mm1: error: " + c[2] + "\n", r.err());
        }
    }

    @Test
    void theDefaultMaxTokensIsCappedToTheContextWithANote() {
        int promptTokens;
        try (Tokenizer tok = Tokenizer.load(tiny.resolve("tokenizer.json"))) {
            promptTokens = 1 + tok.encode("hi").length; // BOS + prompt
        }
        CliTest.Result r = CliTest.run("generate", "--model", tiny.toString(), "--prompt", "hi");
        assertEquals(0, r.code(), r.err());
        assertEquals("mm1: note: --max-tokens 128 capped to " + (128 - promptTokens) + ": the model's context is 128 "
                + "positions and the prompt takes " + promptTokens + "\n", r.err());
        CliTest.Result fits = CliTest.run("generate", "--model", tiny.toString(), "--prompt", "hi", "--max-tokens", "3");
        assertEquals(0, fits.code(), fits.err());
        assertEquals("", fits.err());
    }

    @Test
    void aPromptThatFillsTheContextIsAClearError() {
        CliTest.Result r = CliTest.run("generate", "--model", tiny.toString(), "--prompt", "x ".repeat(200));
        assertEquals(1, r.code());
        assertTrue(r.err().matches("mm1: error: the prompt takes \\d+ tokens; the model's context is 128 positions, "
                + "which leaves no room to generate\n"), r.err());
    }

    @Test
    void stopTextEndsTheOutputBeforeIt() {
        String[] args = {"generate", "--model", tiny.toString(), "--prompt", "the", "--max-tokens", "20",
            "--temperature", "1", "--top-k", "50", "--seed", "5"};
        CliTest.Result full = CliTest.run(args);
        assertEquals(0, full.code(), full.err());
        String text = full.out().strip();
        assertTrue(text.length() > 6, "random model output too short to cut: '" + text + "'");
        String stop = text.substring(3, 6);
        String[] withStop = java.util.Arrays.copyOf(args, args.length + 2);
        withStop[args.length] = "--stop";
        withStop[args.length + 1] = stop;
        CliTest.Result cut = CliTest.run(withStop);
        assertEquals(0, cut.code(), cut.err());
        assertEquals(full.out().substring(0, full.out().indexOf(stop)) + System.lineSeparator(), cut.out());
    }
}
