package io.mm1j.train;

import static io.mm1j.train.PretrainRuns.losses;
import static io.mm1j.train.PretrainRuns.pretrain;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.TestSupport;
import io.mm1j.io.FolderLock;
import io.mm1j.mllm.Mm1Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 pretrain} end to end at unit-test size: determinism, exact resume, refused resumes. */
class PretrainRunTest {
    @TempDir
    Path tmp;

    @Test
    void sameSeedGivesBitIdenticalLosses() throws Exception {
        PretrainRuns.Cli a = pretrain(tmp.resolve("a"), "--steps", "4", "--seed", "3");
        PretrainRuns.Cli b = pretrain(tmp.resolve("b"), "--steps", "4", "--seed", "3");
        PretrainRuns.Cli c = pretrain(tmp.resolve("c"), "--steps", "4", "--seed", "4");
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        assertEquals(0, c.code(), c.err());
        TreeMap<Long, String> la = losses(tmp.resolve("a"));
        assertEquals(java.util.List.of(1L, 2L, 3L, 4L), java.util.List.copyOf(la.keySet()));
        assertEquals(la, losses(tmp.resolve("b")));
        assertNotEquals(la, losses(tmp.resolve("c")), "another seed must give other losses");
        // each step says how its trained tokens split between the sources
        com.fasterxml.jackson.databind.JsonNode line = PretrainRuns.line(tmp.resolve("a"), 1, "loss");
        double shares = 0;
        for (String src : java.util.List.of("interleaved", "captions", "text")) {
            assertTrue(line.has("tokenShare/" + src), line.toString());
            shares += line.get("tokenShare/" + src).asDouble();
        }
        assertEquals(1.0, shares, 1e-9, line.toString());
        // a run's run.json is a config: its _run record is set aside
        PretrainRuns.Cli d = PretrainRuns.cli("pretrain", "--out", tmp.resolve("d").toString(), "--config",
                tmp.resolve("a/run.json").toString());
        assertEquals(0, d.code(), d.err());
        assertEquals(la, losses(tmp.resolve("d")));
    }

    @Test
    void aRunFolderAnotherRunHoldsIsRefusedNamingThatProcess() throws Exception {
        Path busy = tmp.resolve("busy");
        try (FolderLock held = FolderLock.tryAcquire(tmp.resolve(".busy.lock"))) {
            assertNotNull(held);
            PretrainRuns.Cli r = pretrain(busy, "--steps", "2", "--seed", "3");
            assertNotEquals(0, r.code());
            assertTrue(r.err().contains("--out " + busy + ": another mm1 process (pid " + ProcessHandle.current().pid()
                    + ") is training in this folder"), r.err());
            assertFalse(Files.exists(busy), "nothing written");
        }
    }

    /** A run stopped before its first checkpoint has nothing to resume: the message names the way to start again. */
    @Test
    void aRunWithoutACheckpointPointsToOverwrite() throws Exception {
        Path run = tmp.resolve("early");
        java.nio.file.Files.createDirectories(run.resolve("checkpoints"));
        io.mm1j.Mm1Exception e = org.junit.jupiter.api.Assertions.assertThrows(io.mm1j.Mm1Exception.class,
                () -> Checkpoint.forResume(run));
        assertEquals("--resume: " + run + " has no checkpoint to resume from (a run stopped before its first "
                + "checkpoint starts again with --overwrite instead of --resume)", e.getMessage());
    }

    @Test
    void stoppedAndResumedRunLogsTheLossesOfAStraightRun() throws Exception {
        String[] common = {"--steps", "12", "--seed", "3", "--set", "train.eval_interval=4"};
        Path straight = tmp.resolve("straight");
        Path split = tmp.resolve("split");
        PretrainRuns.Cli s = pretrain(straight, common);
        assertEquals(0, s.code(), s.err());
        PretrainRuns.Cli first = pretrain(split, concat(common, "--stop-at-step", "6"));
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("stopped after step 6"), first.out());
        assertTrue(Files.isDirectory(split.resolve("checkpoints/step-6")), "checkpoint of the stop");
        assertFalse(Files.exists(split.resolve("model")), "a stopped run has no final model");
        assertEquals(6, losses(split).lastKey());

        // a --steps below the steps done would "finish" past the run's own schedule: refused, nothing written
        PretrainRuns.Cli shorter = pretrain(split, "--steps", "5", "--seed", "3", "--set", "train.eval_interval=4",
                "--resume");
        assertEquals(1, shorter.code());
        assertEquals("mm1: error: --resume: the run in " + split.toAbsolutePath() + " is at step 6 (step-6), past "
                + "train.steps 5: give --steps 6 or more", shorter.err().strip());
        assertFalse(Files.exists(split.resolve("model")));
        // data.workers (loader threads) may change on resume: the batches are the same
        PretrainRuns.Cli second = pretrain(split, concat(common, "--resume", "--set", "data.workers=1"));
        assertEquals(0, second.code(), second.err());
        assertTrue(second.out().contains("finished after step 12"), second.out());
        TreeMap<Long, String> want = losses(straight);
        TreeMap<Long, String> got = losses(split);
        assertEquals(12, want.size());
        SortedMap<Long, String> tail = want.tailMap(7L);
        assertEquals(tail, got.tailMap(7L), "steps 7…12 after the resume");
        assertEquals(want, got, "metrics.jsonl keeps steps 1…6 once and adds 7…12");
        String summary = Files.readString(split.resolve("summary.json"));
        PretrainRuns.Cli again = pretrain(split, concat(common, "--resume"));
        assertEquals(1, again.code());
        assertEquals("mm1: error: --resume: the run in " + split.toAbsolutePath() + " is at step 12 (step-12) and "
                + "train.steps is 12; it has finished (its model is in " + split.toAbsolutePath().resolve("model")
                + "): give a larger --steps to train on", again.err().strip());
        assertEquals(summary, Files.readString(split.resolve("summary.json")), "the finished run's summary stays");
        // a run killed while its model was written (last checkpoint there, no model/) is finished by a resume
        io.mm1j.io.OutputDir.deleteTree(split.resolve("model"));
        PretrainRuns.Cli finish = pretrain(split, concat(common, "--resume"));
        assertEquals(0, finish.code(), finish.err());
        assertTrue(Files.isRegularFile(split.resolve("model/config.json")), "model/ written");
        assertEquals(want, losses(split), "no step trained again");
        PretrainRuns.Cli both = pretrain(split, concat(common, "--resume", "--init", straight.resolve("model")
                .toString()));
        assertEquals("mm1: error: --init starts a new run from a model and --resume goes on with the run in --out: "
                + "give one or the other", both.err().strip());
        // the validation at step 12 (after the resume) matches too
        assertEquals(PretrainRuns.line(straight, 12, "valLoss").get("valLoss").asDouble(),
                PretrainRuns.line(split, 12, "valLoss").get("valLoss").asDouble(), 0);
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.load(split.resolve("model"), m, DataType.FLOAT32)) {
            assertEquals(32, model.config().llm().hiddenSize());
            assertTrue(Files.isRegularFile(split.resolve("model/tokenizer.json")));
        }
    }

    /**
     * A resume with a longer --steps goes on with it and says so: one warning line per changed key, run.json's config
     * the new one with the change listed in {@code _run.resumes}; a warm-up derived from the old length stays (a
     * re-derived, longer one would send the run at step 5 back to half its LR).
     */
    @Test
    void aLongerResumeIsRecordedAndKeepsItsWarmup() throws Exception {
        Path run = tmp.resolve("longer");
        String[] common = {"--seed", "3", "--set", "optim.warmup_steps=null"};
        PretrainRuns.Cli first = pretrain(run, concat(common, "--steps", "20", "--stop-at-step", "4"));
        assertEquals(0, first.code(), first.err());
        PretrainRuns.Cli second = pretrain(run, concat(common, "--steps", "100", "--stop-at-step", "6", "--resume"));
        assertEquals(0, second.code(), second.err());
        assertTrue(second.err().contains("--resume from step 4: train.steps changed from 20 to 100 (the LR schedule "
                + "now decays over the new length)"), second.err());
        assertTrue(second.err().contains("--resume from step 4: optim.warmup_steps kept at 2, the warm-up the run "
                + "started with (derived from its first train.steps)"), second.err());
        com.fasterxml.jackson.databind.JsonNode runJson = PretrainRuns.JSON.readTree(run.resolve("run.json").toFile());
        assertEquals(100, runJson.path("train").path("steps").asInt());
        assertEquals(2, runJson.path("optim").path("warmup_steps").asInt());
        com.fasterxml.jackson.databind.JsonNode resume = runJson.path("_run").path("resumes").path(0);
        assertEquals(4, resume.path("step").asInt(), runJson.toPrettyString());
        assertEquals(20, resume.path("changes").path("train.steps").path("before").asInt());
        assertEquals(100, resume.path("changes").path("train.steps").path("after").asInt());
        assertEquals(2, runJson.path("_run").path("resolved").path("warmupSteps").asInt(), runJson.toPrettyString());
        double lr3 = PretrainRuns.line(run, 3, "lr").get("lr").asDouble();
        double lr5 = PretrainRuns.line(run, 5, "lr").get("lr").asDouble();
        assertTrue(lr5 > 0.95 * lr3, "step 5 stays past the warm-up: lr " + lr5 + " after " + lr3);
        // an unchanged resume writes nothing new
        String before = Files.readString(run.resolve("run.json"));
        PretrainRuns.Cli third = pretrain(run, concat(common, "--steps", "100", "--stop-at-step", "7", "--resume"));
        assertEquals(0, third.code(), third.err());
        assertFalse(third.err().contains("--resume from step"), third.err());
        assertEquals(before, Files.readString(run.resolve("run.json")));
    }

    /**
     * --init takes the model's own tokenizer (a tokenizer trained anew on other data has the same size but maps ids to
     * other strings); a tokenizer setting that names another one is refused.
     */
    @Test
    void initTakesTheModelsOwnTokenizer() throws Exception {
        Path base = tmp.resolve("base");
        assertEquals(0, pretrain(base, "--steps", "1").code());
        Path fresh = tmp.resolve("fresh");
        String[] other = {"--steps", "1", "--set", "data.synthetic_images=60", "--set", "data.synthetic_captions=recaptioned"};
        assertEquals(0, pretrain(fresh, other).code());
        byte[] own = Files.readAllBytes(base.resolve("model/tokenizer.json"));
        assertFalse(java.util.Arrays.equals(own, Files.readAllBytes(fresh.resolve("tokenizer.json"))),
                "the other data trains another tokenizer");
        Path init = tmp.resolve("init");
        PretrainRuns.Cli r = pretrain(init, concat(other, "--init", base.resolve("model").toString()));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(own, Files.readAllBytes(init.resolve("tokenizer.json")));
        // an --init model with fewer positions than data.seq_len is refused before anything is written
        Path small = tmp.resolve("small");
        assertEquals(0, PretrainRuns.cli("init", "--preset", "tiny-test", "--out", small.toString()).code());
        PretrainRuns.Cli longer = pretrain(tmp.resolve("longer"), concat(other, "--init", small.toString(), "--set",
                "data.seq_len=200"));
        assertEquals(1, longer.code());
        assertEquals("mm1: error: data.seq_len 200 is longer than the --init model's 128 positions (maxPositions): "
                + "set --set data.seq_len=128 or less", longer.err().strip());
        assertFalse(Files.exists(tmp.resolve("longer")));
        PretrainRuns.Cli bytes = pretrain(tmp.resolve("bytes"), concat(other, "--init", base.resolve("model")
                .toString(), "--set", "tokenizer=bytes"));
        assertEquals(1, bytes.code());
        assertEquals("mm1: error: --init " + base.resolve("model") + ": tokenizer bytes is not the model's own ("
                + base.resolve("model/tokenizer.json") + "); its embeddings belong to that one: drop the tokenizer "
                + "setting to use it", bytes.err().strip());
    }

    @Test
    void freezingEveryWeightIsRefused() {
        PretrainRuns.Cli r = pretrain(tmp.resolve("frozen"), "--steps", "2", "--set",
                "train.freeze=[\"vision\",\"connector\",\"llm\",\"lm_head\"]");
        assertEquals(1, r.code());
        assertEquals("mm1: error: train.freeze [\"vision\",\"connector\",\"llm\",\"lm_head\"] freezes every weight "
                + "of the model: nothing would train", r.err().strip().lines().reduce((a, b) -> b).orElse(""));
    }

    /** A source none of whose samples loads (a text-only model on image data) ends the run with one line, never spins. */
    @Test
    void aSourceWhereNothingLoadsEndsTheRun() {
        PretrainRuns.Cli r = pretrain(tmp.resolve("nothing"), "--steps", "2", "--set", "model.vision=false", "--set",
                "model.connector=false", "--set", "train.eval_interval=1"); // the captions' held-out set: none loads
        assertEquals(1, r.code());
        String last = r.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("mm1: error: data: the last 1000 samples all failed to load and were skipped "
                + "(the latest: sample "), last);
        assertTrue(last.endsWith("a text-only model cannot train on images (set model.vision or use text sources "
                + "only)); nothing to train on: fix the source, the model or the chat template (see the warnings "
                + "above)"), last);
    }

    /** A tiny MoE (4 experts, top-2, every layer; MM1's 0.01 / 0.001 router loss weights). */
    static final String MOE = "model.moe={\"numExperts\":4,\"topK\":2,\"every\":1,\"expertIntermediate\":0,"
            + "\"balanceCoef\":0.01,\"zLossCoef\":0.001,\"capacityFactor\":0}";

    /**
     * Exact resume with gradient accumulation (2 micro-batches per step) on an MoE model: the micro-batches of a
     * step come from one packed batch, so the data cursor after a step is the same whether or not the run stopped
     * there; the losses, router losses and expert loads of steps 4…6 equal the straight run's bit for bit. The same
     * lines carry the MoE metrics: separate balance and z losses whose weighted sum is the auxiliary loss, and the
     * expert load (shares of the routed real tokens, summing to 1).
     */
    @Test
    void resumeWithGradientAccumulationOnAnMoeIsExactAndLogsRouterMetrics() throws Exception {
        String[] common = {"--steps", "6", "--seed", "3", "--set", "train.grad_accum=2", "--set", MOE};
        Path straight = tmp.resolve("straight");
        Path split = tmp.resolve("split");
        PretrainRuns.Cli s = pretrain(straight, common);
        assertEquals(0, s.code(), s.err());
        PretrainRuns.Cli first = pretrain(split, concat(common, "--stop-at-step", "3"));
        assertEquals(0, first.code(), first.err());
        PretrainRuns.Cli second = pretrain(split, concat(common, "--resume"));
        assertEquals(0, second.code(), second.err());
        assertEquals(losses(straight), losses(split));
        assertEquals(6, losses(split).size());
        for (long step = 4; step <= 6; step++) {
            com.fasterxml.jackson.databind.JsonNode a = PretrainRuns.line(straight, step, "loss");
            com.fasterxml.jackson.databind.JsonNode b = PretrainRuns.line(split, step, "loss");
            for (String k : new String[] {"moe/balance", "moe/z", "moe/aux", "moe/load/0", "moe/load/3"}) {
                assertEquals(a.get(k).toString(), b.get(k).toString(), k + " at step " + step);
            }
        }
        int layers = 2; // tiny-test: every layer is MoE
        for (long step = 1; step <= 6; step++) {
            com.fasterxml.jackson.databind.JsonNode l = PretrainRuns.line(straight, step, "loss");
            double balance = l.get("moe/balance").asDouble();
            double z = l.get("moe/z").asDouble();
            assertTrue(balance >= 1 - 1e-6 && balance < 4, "E·Σ f·P is 1 when balanced, at most E: " + balance);
            assertTrue(z > 0, "z-loss " + z);
            assertEquals(layers * (0.01 * balance + 0.001 * z), l.get("moe/aux").asDouble(), 1e-5 * l.get("moe/aux")
                    .asDouble(), "aux = Σ_layers (0.01·balance + 0.001·z) at step " + step);
            double sum = 0;
            double max = 0;
            for (int e = 0; e < 4; e++) {
                double share = l.get("moe/load/" + e).asDouble();
                sum += share;
                max = Math.max(max, share);
            }
            assertFalse(l.has("moe/load/4"), "4 experts");
            assertEquals(1, sum, 1e-12, "expert shares of one step sum to 1");
            assertTrue(l.get("moe/maxExpertShare").asDouble() >= max - 1e-12, "the worst layer is at least the mean");
        }
        assertTrue(Files.size(straight.resolve("plots/moe-load.png")) > 1000);
        assertTrue(Files.size(straight.resolve("plots/moe-losses.png")) > 1000);
    }

    @Test
    void resumeWithAnotherModelShapeOrACorruptCheckpointIsRefused() throws Exception {
        Path run = tmp.resolve("r");
        PretrainRuns.Cli first = pretrain(run, "--steps", "4", "--stop-at-step", "1");
        assertEquals(0, first.code(), first.err());
        String metricsBefore = Files.readString(run.resolve("metrics.jsonl"));

        PretrainRuns.Cli wider = pretrain(run, "--steps", "4", "--resume", "--set", "model.llm.hidden_size=64");
        assertEquals(1, wider.code());
        assertEquals("mm1: error: --resume: 'model.llm.hidden_size' differs from the checkpoint's run (step-1): "
                + "null before, 64 now", wider.err().strip());

        Path state = run.resolve("checkpoints/step-1/state.json");
        String good = Files.readString(state);
        Files.writeString(state, good.replaceFirst("\"step\"\\s*:\\s*1", "\"step\": 50"));
        PretrainRuns.Cli edited = pretrain(run, "--steps", "4", "--resume");
        assertEquals(1, edited.code());
        assertTrue(edited.err().strip().endsWith("not a valid checkpoint state ('step' is 50 in folder step-1)"),
                edited.err());
        Files.writeString(state, "{\"step\": 1, \"cursor\":");
        PretrainRuns.Cli corrupt = pretrain(run, "--steps", "4", "--resume");
        assertEquals(1, corrupt.code());
        String err = corrupt.err().strip();
        assertTrue(err.startsWith("mm1: error: " + state.toAbsolutePath() + ": not a valid checkpoint state"), err);
        assertEquals(1, err.lines().count(), err);
        assertEquals(metricsBefore, Files.readString(run.resolve("metrics.jsonl")), "nothing written is lost");
    }

    /** A checkpoint whose files came from a run of another model is refused on resume, naming the field. */
    @Test
    void aCheckpointHoldingAnotherModelIsRefused() throws Exception {
        Path run = tmp.resolve("own");
        Path other = tmp.resolve("other");
        assertEquals(0, pretrain(run, "--steps", "4", "--stop-at-step", "1").code());
        assertEquals(0, pretrain(other, "--steps", "4", "--stop-at-step", "1", "--set", "model.llm.hidden_size=64")
                .code());
        for (String f : new String[] {"config.json", "model.safetensors", "optimizer.safetensors"}) {
            Files.copy(other.resolve("checkpoints/step-1").resolve(f), run.resolve("checkpoints/step-1").resolve(f),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        PretrainRuns.Cli r = pretrain(run, "--steps", "4", "--resume");
        assertEquals(1, r.code());
        assertEquals("mm1: error: --resume: " + run.resolve("checkpoints/step-1/config.json").toAbsolutePath()
                + " holds another model than the run started with: 'llm.headDim' is 16, the run's (run.json) 8",
                r.err().strip());
    }

    /**
     * --overwrite sets the old run aside instead of deleting it first: a new run that fails on bad input before its
     * first step puts the old one back untouched; a failed new run in a fresh folder leaves no folder behind.
     */
    @Test
    void aFailedOverwriteKeepsTheOldRunAndAFailedNewRunLeavesNothing() throws Exception {
        Path run = tmp.resolve("kept");
        PretrainRuns.Cli first = pretrain(run, "--steps", "2");
        assertEquals(0, first.code(), first.err());
        SortedMap<String, Long> before = listing(run);
        // a source whose images folder is missing: found only once the run reads its data (after the folder
        // checks), which is where the old run used to be deleted already
        Path coco = tmp.resolve("captions.json");
        Files.writeString(coco, "{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\"}], "
                + "\"annotations\": [{\"image_id\": 1, \"caption\": \"a red cat\"}]}");
        Path noImages = tmp.resolve("no-images");
        String source = "data.sources=[{\"name\": \"captions\", \"format\": \"coco\", \"path\": \"" + coco
                + "\", \"images\": \"" + noImages + "\", \"weight\": 1}]";
        PretrainRuns.Cli bad = pretrain(run, "--steps", "2", "--overwrite", "--set", source);
        assertEquals(1, bad.code());
        assertEquals("mm1: error: data.sources[0].images: " + noImages + " is not a folder", bad.err().strip());
        assertEquals(before, listing(run), "the old run is back, file for file");
        assertFalse(Files.exists(tmp.resolve(".kept.overwritten")));

        assertFalse(Files.exists(run.resolve(Pretrainer.OVERWRITTEN)));

        // a killed --overwrite, set-aside complete and the new run not started (it wrote a run.json): the next
        // start deletes the new files and puts the old ones back
        setAside(run, true);
        Files.writeString(run.resolve("run.json"), "{}");
        PretrainRuns.Cli refused = pretrain(run, "--steps", "2");
        assertEquals(1, refused.code());
        assertTrue(refused.err().contains("put back the run an interrupted --overwrite had set aside"), refused.err());
        assertEquals(before, listing(run), "the old run is back after the interrupted --overwrite");
        // killed part way through the set-aside: the files not yet moved are the old run's own and stay
        setAside(run, false);
        Files.move(run.resolve(Pretrainer.OVERWRITTEN).resolve("run.json"), run.resolve("run.json"));
        assertEquals(1, pretrain(run, "--steps", "2").code());
        assertEquals(before, listing(run), "the old run is whole after an interrupted set-aside");
        // killed part way through putting the old files back (the new run's files already deleted): the next
        // start moves the rest back and deletes nothing
        setAside(run, true);
        Path aside = run.resolve(Pretrainer.OVERWRITTEN);
        Files.createFile(aside.resolve(Pretrainer.SET_ASIDE_RESTORING));
        Files.move(aside.resolve("run.json"), run.resolve("run.json"));
        Files.move(aside.resolve("metrics.jsonl"), run.resolve("metrics.jsonl"));
        assertEquals(1, pretrain(run, "--steps", "2").code());
        assertEquals(before, listing(run), "the old run is whole after an interrupted put-back");
        // killed after the new run's first step, part way through deleting the old files (marked for deletion,
        // the markers go last): the rest is deleted, the new run's files stay
        Path half = tmp.resolve("half");
        Files.createDirectories(half.resolve(Pretrainer.OVERWRITTEN).resolve("data/images"));
        Files.writeString(half.resolve(Pretrainer.OVERWRITTEN).resolve("data/images/1.png"), "old");
        Files.createFile(half.resolve(Pretrainer.OVERWRITTEN).resolve(Pretrainer.SET_ASIDE_DROP));
        Files.writeString(half.resolve("metrics.jsonl"), "{}");
        Pretrainer.recoverOverwritten(half);
        assertEquals(java.util.List.of("metrics.jsonl"), listing(half).keySet().stream().toList());

        // through a symbolic link: the link stays, the new run lives where it points
        Path target = tmp.resolve("elsewhere");
        Files.move(run, target);
        Files.createSymbolicLink(run, target);
        PretrainRuns.Cli again = pretrain(run, "--steps", "2", "--seed", "5", "--overwrite");
        assertEquals(0, again.code(), again.err());
        assertTrue(Files.isSymbolicLink(run));
        assertFalse(Files.exists(target.resolve(Pretrainer.OVERWRITTEN)), "the replaced run is deleted");
        assertTrue(Files.readString(target.resolve("run.json")).contains("\"seed\" : 5"));

        Path fresh = tmp.resolve("fresh");
        PretrainRuns.Cli failed = pretrain(fresh, "--steps", "2", "--set", source);
        assertEquals(1, failed.code());
        assertFalse(Files.exists(fresh), "a run that failed before its first step leaves no folder");
    }

    /** A resume whose data file changed since the run started is refused, naming the source; unchanged, it goes on. */
    @Test
    void resumeWithChangedDataIsRefused() throws Exception {
        Path text = tmp.resolve("corpus.txt");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            sb.append("Paragraph ").append(i).append(": the quick brown fox jumps over the lazy dog.\n\n");
        }
        Files.writeString(text, sb);
        String source = "data.sources=[{\"name\": \"text\", \"format\": \"text\", \"path\": \"" + text
                + "\", \"weight\": 1}]";
        Path run = tmp.resolve("t");
        String[] args = {"--steps", "3", "--set", source, "--set", "tokenizer=\"bytes\"", "--set", "model.vision=false",
            "--set", "model.connector=false"};
        PretrainRuns.Cli first = pretrain(run, concat(args, "--stop-at-step", "1"));
        assertEquals(0, first.code(), first.err());
        Files.writeString(text, sb.toString().replace("fox", "cat"));
        PretrainRuns.Cli changed = pretrain(run, concat(args, "--resume"));
        assertEquals(1, changed.code());
        assertEquals("mm1: error: --resume: the data of data.sources[0] (" + text + ") changed since the run started: "
                + "its files differ from those step-1 was trained on; restore them or start a new run",
                changed.err().strip());
        Files.writeString(text, sb);
        PretrainRuns.Cli restored = pretrain(run, concat(args, "--resume"));
        assertEquals(0, restored.code(), restored.err());
        assertEquals(java.util.List.of(1L, 2L, 3L), java.util.List.copyOf(losses(run).keySet()));
    }

    /**
     * A diverged run stops with one line after ten skipped updates instead of logging NaN to the end; a checkpoint
     * whose weights hold NaN is refused on resume, naming the weight; summary.json has null, not "NaN", when no
     * validation ran.
     */
    @Test
    void aDivergedRunStopsAndNonFiniteWeightsAreRefused() throws Exception {
        Path run = tmp.resolve("diverged");
        PretrainRuns.Cli r = pretrain(run, "--steps", "30", "--set", "optim.lr=1e30", "--set",
                "train.checkpoint_interval=1");
        assertEquals(1, r.code(), r.out());
        String err = r.err().strip();
        String last = err.lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.matches("mm1: error: step \\d+: the last 10 optimizer updates were skipped \\(gradient norm "
                + "NaN, loss NaN\\): the run diverged or its weights are not finite; it stops here .*"), err);
        assertTrue(err.contains("the update is skipped"), err);
        long stopped = Long.parseLong(last.replaceAll("mm1: error: step (\\d+):.*", "$1"));
        assertTrue(stopped < 30, last);
        assertEquals(stopped, losses(run).size(), "every step up to the stop is logged");

        Path clean = tmp.resolve("clean");
        PretrainRuns.Cli ok = pretrain(clean, "--steps", "2", "--stop-at-step", "1");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().contains("stopped after step 1: no validation ran"), ok.out());
        assertTrue(RunConfig.JSON.readTree(clean.resolve("summary.json").toFile()).get("bestValLoss").isNull());
        Path weights = clean.resolve("checkpoints/step-1/model.safetensors");
        byte[] b = Files.readAllBytes(weights);
        for (int i = b.length - 64; i < b.length; i++) { // the last tensor's last 16 floats: 0xFFFFFFFF is a NaN
            b[i] = (byte) 0xFF;
        }
        Files.write(weights, b);
        PretrainRuns.Cli resumed = pretrain(clean, "--steps", "2", "--resume");
        assertEquals(1, resumed.code());
        assertTrue(resumed.err().strip().matches("mm1: error: .*step-1: weight '.+' holds NaN or infinite values "
                + "\\(a corrupt file, or a model saved after training diverged\\)"), resumed.err());
    }

    /** Moves every entry of {@code run} into its .overwritten/, as --overwrite does, marked complete or not. */
    private static void setAside(Path run, boolean complete) throws java.io.IOException {
        Path aside = run.resolve(Pretrainer.OVERWRITTEN);
        Files.createDirectory(aside);
        try (var children = Files.list(run)) {
            for (Path p : children.toList()) {
                if (!p.equals(aside)) {
                    Files.move(p, aside.resolve(p.getFileName()));
                }
            }
        }
        if (complete) {
            Files.createFile(aside.resolve(Pretrainer.SET_ASIDE_COMPLETE));
        }
    }

    /** Relative path → size of every file under {@code dir}. */
    private static SortedMap<String, Long> listing(Path dir) throws java.io.IOException {
        SortedMap<String, Long> out = new TreeMap<>();
        try (var s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                out.put(dir.relativize(p).toString(), Files.size(p));
            }
        }
        return out;
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /**
     * train.activation_checkpointing recomputes every block in the backward: the same losses as the plain path up
     * to float32 rounding (the recomputed forward runs the same ops; only the order of gradient sums differs).
     */
    @Test
    void activationCheckpointingTrainsLikeThePlainPath() throws Exception {
        PretrainRuns.Cli plain = pretrain(tmp.resolve("plain"), "--steps", "3", "--seed", "5");
        PretrainRuns.Cli ckpt = pretrain(tmp.resolve("ckpt"), "--steps", "3", "--seed", "5", "--set",
                "train.activation_checkpointing=true");
        assertEquals(0, plain.code(), plain.err());
        assertEquals(0, ckpt.code(), ckpt.err());
        TreeMap<Long, String> a = losses(tmp.resolve("plain"));
        TreeMap<Long, String> b = losses(tmp.resolve("ckpt"));
        assertEquals(a.keySet(), b.keySet());
        // step 1 sees identical weights, so the forward computes the same function; the checkpointed one runs with
        // autograd off, where libtorch's fused kernels may take other variants (AMD AVX2 host: 5.6790759484 vs
        // 5.6790759405; bit-identical with the composed ops, -Dmm1.fusedKernels=false), so float32 rounding apart
        double first = Double.parseDouble(a.get(1L));
        org.junit.jupiter.api.Assertions.assertEquals(first, Double.parseDouble(b.get(1L)), 1e-7 * first,
                "step 1 sees identical weights: the forward must compute the same function");
        for (long s : a.keySet()) {
            double x = Double.parseDouble(a.get(s));
            double y = Double.parseDouble(b.get(s));
            org.junit.jupiter.api.Assertions.assertEquals(x, y, 1e-4 * x, "step " + s);
        }
    }
}
