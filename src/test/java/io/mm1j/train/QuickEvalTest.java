package io.mm1j.train;

import static io.mm1j.train.PretrainRuns.pretrain;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import io.mm1j.io.JsonFiles;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Periodic k-shot quick evaluation of {@code mm1 pretrain}: logged per shot count, and what {@code mm1 eval} says. */
class QuickEvalTest {
    @TempDir
    Path tmp;

    @Test
    void kShotScoresAreLoggedPlottedAndEqualMm1Eval() throws Exception {
        Path run = tmp.resolve("run");
        PretrainRuns.Cli c = pretrain(run, "--steps", "4", "--seed", "3", "--set", "train.fewshot_interval=2",
                "--set", "train.fewshot_items=3");
        assertEquals(0, c.code(), c.err());
        for (long step : new long[] {2, 4}) {
            JsonNode line = PretrainRuns.line(run, step, "eval/cider@4");
            for (String k : List.of("eval/cider@0", "eval/vqa@0", "eval/cider@4", "eval/vqa@4")) {
                assertTrue(line.has(k) && Double.isFinite(line.get(k).asDouble()), k + " at step " + step + ": "
                        + line);
            }
        }
        assertTrue(c.out().contains("CIDEr-D@4"), c.out());
        assertTrue(Files.size(run.resolve("plots/fewshot.png")) > 1000, "fewshot.png drawn");

        // a run on that world given as --data DIR scores it too (it looked only in its own RUN/data before)
        java.util.List<String> args = new java.util.ArrayList<>(PretrainRuns.TINY);
        args.set(args.indexOf("synthetic"), run.resolve("data").toString());
        args.addAll(0, List.of("pretrain", "--out", tmp.resolve("ext").toString()));
        args.addAll(List.of("--steps", "2", "--set", "train.fewshot_interval=2", "--set", "train.fewshot_items=2",
                "--set", "train.fewshot_shots=[0]"));
        PretrainRuns.Cli ext = PretrainRuns.cli(args.toArray(String[]::new));
        assertEquals(0, ext.code(), ext.err());
        assertTrue(PretrainRuns.line(tmp.resolve("ext"), 2, "eval/cider@0").has("eval/vqa@0"));

        // the final model scored again in-process and by `mm1 eval`: the same prompts, outputs and scores
        JsonNode logged = PretrainRuns.line(run, 4, "eval/cider@4");
        QuickEval.Result r;
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.load(run.resolve("model"), m, DataType.FLOAT32);
             Tokenizer tok = Tokenizer.load(run.resolve("model/tokenizer.json"))) {
            r = QuickEval.evaluate(model, tok, run.resolve("data"), 4, 3, 3);
        }
        assertEquals(3, r.captions());
        assertEquals(3, r.questions());
        assertEquals(logged.get("eval/cider@4").asDouble(), r.cider(), 0);
        assertEquals(logged.get("eval/vqa@4").asDouble(), r.vqa(), 0);
        for (String task : List.of("coco-captions", "vqav2")) {
            Path out = tmp.resolve("eval-" + task);
            PretrainRuns.Cli e = PretrainRuns.cli("eval", "--model", run.resolve("model").toString(), "--task", task,
                    "--data", run.resolve("data").toString(), "--shots", "4", "--limit", "3", "--seed", "3",
                    "--log-samples", "--out", out.toString());
            assertEquals(0, e.code(), e.err());
            JsonNode scores = JsonFiles.MAPPER.readTree(out.resolve("scores.json").toFile());
            if (task.equals("coco-captions")) {
                assertEquals(scores.at("/metrics/CIDEr").asDouble(), r.cider(), 0);
                List<String> outputs = new ArrayList<>();
                for (String l : Files.readAllLines(out.resolve("samples.jsonl"))) {
                    JsonNode s = JsonFiles.MAPPER.readTree(l);
                    outputs.add(s.get("output").asText());
                    assertTrue(s.get("demos").size() >= 1, "a 4-shot prompt shows demonstrations: " + s);
                }
                assertEquals(outputs, r.examples());
            } else {
                assertEquals(scores.at("/metrics/overall").asDouble(), r.vqa(), 0);
            }
        }
    }

    @Test
    void shotCountsOutsideMm1sSettingsAreRefused() {
        PretrainRuns.Cli c = pretrain(tmp.resolve("bad"), "--steps", "1", "--set", "train.fewshot_shots=[0,5]");
        assertEquals(1, c.code());
        assertEquals("mm1: error: train.fewshot_shots must be a non-empty list of distinct shot counts from "
                + "[0, 4, 8] (MM1's few-shot settings), got [0,5]", c.err().strip());
    }
}
