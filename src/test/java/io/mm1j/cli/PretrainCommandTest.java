package io.mm1j.cli;

import static io.mm1j.train.PretrainRuns.pretrain;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.train.PretrainRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 pretrain}'s command line: bad input is one line naming the culprit; --dry-run's plan. */
class PretrainCommandTest {
    @TempDir
    Path tmp;

    @Test
    void corruptImagesAreSkippedAndCountedAndTheRunCompletes() throws Exception {
        Path world = PretrainRuns.synthWorld(tmp.resolve("world"));
        int broken = 0;
        try (Stream<Path> s = Files.list(world.resolve("images/train"))) {
            for (Path p : s.sorted().toList()) {
                if (broken++ % 2 == 0) { // every other caption image: a PNG header, then garbage
                    Files.write(p, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 1, 2, 3});
                }
            }
        }
        Path run = tmp.resolve("run");
        PretrainRuns.Cli r = pretrain(run, "--steps", "3", "--set", PretrainRuns.captionsOnly(world));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("finished after step 3"), r.out());
        JsonNode summary = new ObjectMapper().readTree(run.resolve("summary.json").toFile());
        assertTrue(summary.get("failedSamples").asLong() > 0, summary.toString());
        assertEquals(3, PretrainRuns.losses(run).size());
        assertTrue(Files.isDirectory(run.resolve("model")));
    }

    /** A run that is all warm-up trains (a smoke run may be), with one warning on stderr naming both values. */
    @Test
    void warmUpCoveringTheWholeRunIsWarnedOnceAtTheStart() {
        PretrainRuns.Cli r = pretrain(tmp.resolve("run"), "--steps", "2", "--set", "optim.warmup_steps=3");
        assertEquals(0, r.code(), r.err());
        String warning = "optim.warmup_steps=3 is not below train.steps=2: the whole run is linear warm-up";
        assertEquals(1, r.err().lines().filter(l -> l.contains(warning)).count(), r.err());
        assertTrue(r.out().contains("finished after step 2"), r.out());
    }

    @Test
    void missingDataPathIsOneLineNamingTheKey() {
        Path missing = tmp.resolve("nope/captions.json");
        PretrainRuns.Cli r = pretrain(tmp.resolve("run"), "--steps", "2", "--set",
                "data.sources=[{\"name\":\"c\",\"format\":\"coco\",\"path\":\"" + missing + "\",\"images\":\""
                        + tmp + "\"}]");
        assertEquals(1, r.code());
        assertEquals("mm1: error: data.sources[0].path: " + missing + " not found", r.err().strip());
    }

    @Test
    void nonEmptyOutWithoutResumeOrOverwriteIsRefused() throws Exception {
        Path out = tmp.resolve("run");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "mine");
        PretrainRuns.Cli r = pretrain(out, "--steps", "2");
        assertEquals(1, r.code());
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("mm1: error: --out ") && err.contains(out.getFileName().toString())
                && err.contains("--overwrite"), err);
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));
        assertEquals(1, Files.list(out).count(), "nothing written into a refused folder");
    }

    @Test
    void dryRunPrintsThePlanWithTheLrLawAtTheNonEmbeddingCount() throws Exception {
        PretrainRuns.Cli r = PretrainRuns.cli("pretrain", "--out", tmp.resolve("run").toString(), "--preset",
                "tiny-test", "--set", "data.seq_len=64", "--set", "train.batch_size=4", "--set", "train.grad_accum=2",
                "--dry-run");
        assertEquals(0, r.code(), r.err());
        JsonNode plan = new ObjectMapper().readTree(r.out());
        // tiny-test LLM: d = 32, 2 layers, 4 heads × 8, 2 KV heads, FFN 64. Per layer: q 32·32 + k 32·16 + v 32·16
        // + o 32·32 + gate/up/down 3·32·64 + 2 norms·32 = 9280; ×2 layers + final norm 32 = 18592
        long n = 2 * (32 * 32 + 32 * 16 + 32 * 16 + 32 * 32 + 3 * 32 * 64 + 2 * 32) + 32;
        assertEquals(n, plan.get("params").get("nonEmbedding").asLong());
        assertEquals(Math.exp(-0.4214 * Math.log(n) - 0.5535), plan.get("lr.peak").asDouble(), 1e-15);
        assertTrue(plan.get("lr.fromLaw").asBoolean());
        assertEquals(4L * 2 * 64, plan.get("tokensPerStep").asLong());
        assertTrue(plan.get("config").get("optim").get("lr").isNull());
        assertTrue(Files.notExists(tmp.resolve("run")), "a dry run writes nothing");
    }

    /** Each bad option is one line naming it (and the nearest valid name where there is one); nothing is written. */
    @Test
    void badOptionsAreOneLineNamingThem() throws Exception {
        Path out = tmp.resolve("run");
        assertEquals("mm1: error: --stop-at-step must be a step >= 1, got 0",
                pretrain(out, "--steps", "4", "--stop-at-step", "0").err().strip());
        assertEquals("mm1: error: --stop-at-step 9 is past the run's last step (train.steps = 4)",
                pretrain(out, "--steps", "4", "--stop-at-step", "9").err().strip());
        assertEquals("mm1: error: train.lr_multipliers: unknown component 'visionx'; did you mean 'vision'?",
                pretrain(out, "--steps", "4", "--set", "train.lr_multipliers={\"visionx\": 2}").err().strip());
        assertEquals("mm1: error: --set: unknown key 'model.llm.hidden'; did you mean 'model.llm.hidden_size'?",
                pretrain(out, "--steps", "4", "--set", "model.llm.hidden=48").err().strip());
        assertEquals("mm1: error: " + tmp + ": a folder, not a config file (give a run.json-style JSON file)",
                PretrainRuns.cli("pretrain", "--config", tmp.toString(), "--out", out.toString()).err().strip());
        Path nowhere = tmp.resolve("nowhere");
        assertEquals("mm1: error: --data " + nowhere + ": not found", PretrainRuns.cli("pretrain", "--preset",
                "tiny-test", "--data", nowhere.toString(), "--out", out.toString()).err().strip());
        assertEquals("mm1: error: model.connector is set but the model has no vision tower (model.vision is false, "
                + "or the preset has none): a connector needs one",
                pretrain(out, "--steps", "4", "--set", "model.vision=false", "--set", "model.connector={\"type\": "
                        + "\"AVG_POOL\"}").err().strip());
        assertTrue(Files.notExists(out), "nothing written");

        // model.vision=false alone is a text-only Llama (the preset's connector goes with the tower)
        PretrainRuns.Cli plan = PretrainRuns.cli("pretrain", "--out", out.toString(), "--preset", "tiny-test",
                "--set", "model.vision=false", "--dry-run");
        assertEquals(0, plan.code(), plan.err());
        JsonNode model = new ObjectMapper().readTree(plan.out()).get("model");
        assertTrue(model.path("vision").isMissingNode() || model.path("vision").isNull(), model.toString());
        assertTrue(model.path("connector").isMissingNode() || model.path("connector").isNull(), model.toString());
    }

    /** The plan (and the up-front check) size the model by the run's tokenizer, not the preset's vocabulary. */
    @Test
    void dryRunSizesTheVocabularyByTheTokenizer() throws Exception {
        Path out = tmp.resolve("run");
        PretrainRuns.Cli bytes = PretrainRuns.cli("pretrain", "--out", out.toString(), "--preset", "tiny-test",
                "--set", "tokenizer=\"bytes\"", "--dry-run");
        assertEquals(0, bytes.code(), bytes.err());
        assertEquals(264, new ObjectMapper().readTree(bytes.out()).at("/model/llm/vocabSize").asInt());
        PretrainRuns.Cli wider = PretrainRuns.cli("pretrain", "--out", out.toString(), "--preset", "tiny-test",
                "--set", "tokenizer=\"bytes\"", "--set", "model.llm.vocab_size=300", "--dry-run");
        assertEquals(0, wider.code(), wider.err());
        assertEquals(300, new ObjectMapper().readTree(wider.out()).at("/model/llm/vocabSize").asInt());
        PretrainRuns.Cli trained = PretrainRuns.cli("pretrain", "--out", out.toString(), "--preset", "tiny-test",
                "--set", "tokenizer={\"train\": {\"vocab_size\": 300}}", "--set", "model.llm.vocab_size=300",
                "--dry-run");
        assertEquals(0, trained.code(), trained.err());
        PretrainRuns.Cli small = pretrain(out, "--steps", "2", "--set", "tokenizer=\"bytes\"", "--set",
                "model.llm.vocab_size=200");
        assertEquals("mm1: error: model.llm.vocab_size (200) is smaller than the tokenizer's vocabulary (264)",
                small.err().strip());
        assertTrue(Files.notExists(out));
    }

    @Test
    void dryRunUsesAGivenLr() throws Exception {
        PretrainRuns.Cli r = PretrainRuns.cli("pretrain", "--out", tmp.resolve("run").toString(), "--preset",
                "tiny-test", "--set", "optim.lr=3e-4", "--dry-run");
        assertEquals(0, r.code(), r.err());
        JsonNode plan = new ObjectMapper().readTree(r.out());
        assertEquals(3e-4, plan.get("lr.peak").asDouble(), 0);
        assertEquals(false, plan.get("lr.fromLaw").asBoolean());
    }
}
