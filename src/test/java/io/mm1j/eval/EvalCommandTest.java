package io.mm1j.eval;

import io.mm1j.data.VqaReader;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.io.JsonFiles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import io.mm1j.cli.EvalCommand;
import io.mm1j.cli.Main;
import io.mm1j.data.SynthWriter;
import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** End-to-end {@code mm1 eval} on a tiny-test model and a small synthetic world, plus stories260k perplexity. */
class EvalCommandTest {
    @TempDir
    static Path tmp;
    static Path model;
    static Path synth;

    @BeforeAll
    static void setUp() {
        model = tmp.resolve("tiny");
        assertEquals(0, Main.run("init", "--preset", "tiny-test", "--out", model.toString(), "--seed", "3"));
        synth = tmp.resolve("synth");
        SynthWriter.write(synth, 20, 32, 5);
    }

    private static void eval(String... args) {
        EvalCommand c = new EvalCommand();
        new CommandLine(c).parseArgs(args);
        try {
            c.call();
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    /** 8 shots do not fit tiny-test's 128 positions: the prompts keep fewer, and the user is told so on stderr. */
    @Test
    void promptsThatDropDemonstrationsAreWarned() throws Exception {
        Path out = tmp.resolve("shots8");
        io.mm1j.TestSupport.CliRun r = io.mm1j.TestSupport.cli("eval", "--model", model.toString(), "--task", "vqav2",
                "--shots", "8", "--data", synth.toString(), "--limit", "2", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(2, JsonFiles.read(out.resolve("scores.json")).get("truncatedPrompts").asInt());
        assertTrue(r.err().lines().anyMatch(l -> l.equals("mm1: warning: 2 of 2 prompts dropped demonstrations to fit "
                + "the model's context of 128 positions, so they had fewer than --shots 8 (truncatedPrompts in "
                + "scores.json)")), r.err());
    }

    @Test
    void vqaRunWritesOfficialResultsScoresWithChecksumsAndIsReproducible() throws Exception {
        Path a = tmp.resolve("vqa-a");
        Path b = tmp.resolve("vqa-b");
        for (Path out : List.of(a, b)) {
            eval("--model", model.toString(), "--task", "vqav2", "--shots", "4", "--data", synth.toString(), "--out",
                    out.toString(), "--seed", "1", "--log-samples");
        }
        for (String f : new String[] {"results.json", "scores.json", "samples.jsonl"}) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f + " reproducible");
        }
        Path ann = synth.resolve("vqa/annotations_val.json");
        VqaAccuracy official = VqaAccuracy.evaluate(VqaVariant.OFFICIAL, VqaReader.readAnnotations(ann),
                VqaReader.readQuestions(synth.resolve("vqa/questions_val.json")),
                VqaAccuracy.readResults(a.resolve("results.json")), a.resolve("results.json"));
        JsonNode scores = JsonFiles.MAPPER.readTree(a.resolve("scores.json").toFile());
        assertEquals(official.overall(), scores.at("/metrics/overall").asDouble());
        assertEquals("official", scores.at("/metrics/variant").asText(), "scores.json names the VQA variant");
        assertEquals(4, scores.get("shots").asInt());
        assertEquals("greedy", scores.at("/decoding/strategy").asText());
        assertEquals(EvalReport.sha256(model.resolve("config.json")), scores.at("/model/configSha256").asText());
        boolean found = false;
        for (JsonNode d : scores.get("data")) {
            if (d.get("path").asText().equals(ann.toAbsolutePath().normalize().toString())) {
                assertEquals(EvalReport.sha256(ann), d.get("sha256").asText());
                found = true;
            }
        }
        assertTrue(found, "annotations checksum recorded");
        List<String> lines = Files.readAllLines(a.resolve("samples.jsonl"));
        assertEquals(official.perQuestion().size(), lines.size());
        JsonNode first = JsonFiles.MAPPER.readTree(lines.get(0));
        for (String k : new String[] {"id", "prompt", "demos", "output", "score"}) {
            assertTrue(first.has(k), k);
        }
        assertTrue(first.get("prompt").asText().endsWith("Short answer:"));
    }

    @Test
    void captionRunIsScoredByCocoCaption() throws Exception {
        Path out = tmp.resolve("cap");
        eval("--model", model.toString(), "--task", "coco-captions", "--data", synth.toString(), "--out",
                out.toString(), "--limit", "2");
        JsonNode results = JsonFiles.MAPPER.readTree(out.resolve("results.json").toFile());
        assertEquals(2, results.size());
        assertTrue(results.get(0).get("image_id").isIntegralNumber() && results.get(0).get("caption").isTextual());
        var refs = CocoCaptionsReader.readStrict(synth.resolve("coco/captions_val.json")).references();
        CaptionScores s = CaptionScores.evaluate(refs, CaptionScores.readResults(out.resolve("results.json")), out.resolve("results.json"), true);
        JsonNode scores = JsonFiles.MAPPER.readTree(out.resolve("scores.json").toFile());
        assertEquals(s.cider(), scores.at("/metrics/CIDEr").asDouble());
        assertEquals(s.bleu()[3], scores.at("/metrics/Bleu_4").asDouble());
    }

    @Test
    void multipleChoiceSplitIsDerivedWrittenAndAskedInEveryRotation() throws Exception {
        Path out = tmp.resolve("mc");
        eval("--model", model.toString(), "--task", "mc", "--data", synth.toString(), "--out", out.toString(),
                "--limit", "2", "--circular", "--log-samples");
        List<EvalExample> mc = MultipleChoice.read(out.resolve("mc_val.json"));
        int rotations = mc.get(0).targets().size() + mc.get(1).targets().size();
        assertEquals(rotations, Files.readAllLines(out.resolve("samples.jsonl")).size());
        JsonNode scores = JsonFiles.MAPPER.readTree(out.resolve("scores.json").toFile());
        assertTrue(scores.at("/metrics/circularAccuracy").asDouble() <= scores.at("/metrics/accuracy").asDouble());
    }

    @Test
    void stories260kPerplexityOnTinyStoriesIsLow() throws Exception {
        Path dir = TestSupport.sharedData("stories260k");
        Path text = TestSupport.sharedData("text").resolve("tinystories_sample.txt");
        Path out = tmp.resolve("text");
        eval("--model", dir.toString(), "--task", "text", "--data", text.toString(), "--out", out.toString(),
                "--limit", "2000");
        JsonNode m = JsonFiles.MAPPER.readTree(out.resolve("scores.json").toFile()).get("metrics");
        assertEquals(2000, m.get("tokens").asInt(), "every token scored exactly once");
        double ppl = m.get("perplexity").asDouble();
        assertTrue(ppl > 1 && ppl < 20, "perplexity " + ppl);
        assertEquals(Math.exp(m.get("meanNll").asDouble()), ppl, 1e-9);
    }

    @Test
    void outFolderIsNeverOverwrittenSilently() throws Exception {
        Path out = tmp.resolve("kept");
        Files.createDirectories(out);
        Files.writeString(out.resolve("notes.txt"), "mine");
        String[] args = {"--model", model.toString(), "--task", "vqav2", "--data", synth.toString(), "--out",
                out.toString(), "--limit", "1"};
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> eval(args));
        assertEquals("--out " + out + ": folder exists and is not empty (pass --overwrite to replace it)",
                e.getMessage());
        assertEquals("mine", Files.readString(out.resolve("notes.txt")));
        String[] again = java.util.Arrays.copyOf(args, args.length + 1);
        again[args.length] = "--overwrite";
        eval(again);
        assertTrue(Files.isRegularFile(out.resolve("scores.json")));
        assertTrue(Files.notExists(out.resolve("notes.txt")), "replaced as a whole once complete");
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".kept")), "no staging debris");
        }
    }

    @Test
    void shotsOutsideMm1SettingsAreRefusedBeforeLoading() {
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> eval("--model", tmp.resolve("absent").toString(),
                "--task", "vqav2", "--shots", "3", "--data", synth.toString(), "--out", tmp.resolve("s3").toString()));
        assertEquals("--shots must be 0, 4 or 8 (MM1's few-shot settings), got 3", e.getMessage());
        assertTrue(Files.notExists(tmp.resolve("s3")));
    }

    @Test
    void badInputsAreErrorsNamingTheFile() throws Exception {
        Path missing = tmp.resolve("nope.json");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> eval("--model", model.toString(), "--task",
                "textvqa", "--data", missing.toString(), "--out", tmp.resolve("x").toString()));
        assertEquals(missing + ": --data not found", e.getMessage());
        Path bad = tmp.resolve("textvqa.json");
        Files.writeString(bad, "{\"data\": [{\"question_id\": 1, \"image_id\": \"ab\", \"question\": \"q?\", "
                + "\"answers\": [\"x\"]}]}");
        e = assertThrows(Mm1Exception.class, () -> eval("--model", model.toString(), "--task", "textvqa", "--data",
                bad.toString(), "--out", tmp.resolve("y").toString()));
        assertEquals(bad + ": entry 0: file not found: " + tmp.resolve("images/ab.jpg"), e.getMessage());
        e = assertThrows(Mm1Exception.class, () -> eval("--model", model.toString(), "--task", "vqa", "--data",
                bad.toString(), "--out", tmp.resolve("z").toString()));
        assertEquals("unknown --task 'vqa' (one of " + EvalTask.names() + ")", e.getMessage());
        Path gqa = tmp.resolve("gqa.json");
        Files.writeString(gqa, "{\"q1\": {\"imageId\": \"n1\", \"question\": \"q?\"}}");
        e = assertThrows(Mm1Exception.class, () -> BenchmarkReaders.gqa(gqa, tmp));
        assertEquals(gqa + ": entry 0 has no \"answer\"", e.getMessage());
    }
}
