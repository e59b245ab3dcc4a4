package io.mm1j.train;

import static io.mm1j.train.PretrainRuns.cli;
import static io.mm1j.train.PretrainRuns.losses;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import io.mm1j.config.VisionConfig;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.vision.VisionTransformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mm1 clip} end to end at unit-test size: the contrastive run learns (loss down, held-out retrieval above
 * chance), the exported CLIPVisionModel folder reloads bit for bit and feeds {@code mm1 pretrain} through
 * {@code model.vision.init}, a stopped-and-resumed run logs a straight run's losses, and AIM trains too.
 */
class ClipRunTest {
    @TempDir
    Path tmp;

    /** tiny-test's encoder (32 px, patch 8, width 32, 1 block), a 1-block text tower of width 32, 160 images. */
    static final List<String> TINY = List.of("--preset", "tiny-test", "--data", "synthetic", "--seed", "1",
            "--set", "data.synthetic_images=160", "--set", "train.batch_size=32", "--set", "train.eval_pairs=16",
            "--set", "model.text={\"width\":32,\"layers\":1,\"heads\":2,\"mlp_dim\":64,\"context\":24}",
            "--set", "model.projection_dim=32", "--set", "model.aim_head_dim=32", "--set", "optim.warmup_steps=10",
            "--set", "optim.lr=1e-3", "--set", "tokenizer={\"train\":{\"vocab_size\":300}}");

    static PretrainRuns.Cli clip(Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("clip", "--out", out.toString()));
        args.addAll(TINY);
        args.addAll(Arrays.asList(extra));
        return cli(args.toArray(String[]::new));
    }

    @Test
    void contrastiveRunLearnsAndBeatsChanceOnHeldOutPairs() throws Exception {
        Path run = tmp.resolve("clip");
        PretrainRuns.Cli r = clip(run, "--steps", "40", "--set", "train.eval_interval=40");
        assertEquals(0, r.code(), r.err());
        TreeMap<Long, String> loss = losses(run);
        double first = Double.parseDouble(loss.firstEntry().getValue());
        double last = loss.tailMap(36L).values().stream().mapToDouble(Double::parseDouble).average().orElseThrow();
        // ln 32 = 3.47 is chance for a batch of 32; the first step sits above it (random embeddings at scale 14)
        assertTrue(first > Math.log(32), "first loss " + first);
        assertTrue(last < 0.85 * first && last < Math.log(32) - 0.1, "mean loss of steps 36–40 " + last
                + " vs first " + first);
        JsonNode s = PretrainRuns.JSON.readTree(run.resolve("summary.json").toFile());
        double r1 = (s.get("retrieval/i2t@1").asDouble() + s.get("retrieval/t2i@1").asDouble()) / 2;
        double chance = (s.get("retrieval/chance/i2t@1").asDouble() + s.get("retrieval/chance/t2i@1").asDouble()) / 2;
        assertEquals(1 / 16.0, s.get("retrieval/chance/t2i@1").asDouble(), 1e-12);
        assertTrue(r1 > 1.5 * chance, "held-out R@1 (mean of both directions) " + r1 + " vs chance " + chance);
        for (String f : List.of("run.json", "tokenizer.json", "metrics.jsonl", "plots/loss.png",
                "plots/retrieval.png", "plots/logit-scale.png", "encoder/config.json", "encoder/model.safetensors",
                "encoder/preprocessor_config.json", "checkpoints/step-40/state.json")) {
            assertTrue(Files.isRegularFile(run.resolve(f)), f);
        }
        assertTrue(r.out().contains("model.vision.init=" + run.resolve("encoder")), r.out());

        // the encoder folder: HF CLIPVisionConfig, and the trained tensors bit for bit
        Path enc = run.resolve("encoder");
        VisionConfig vc = PretrainedParts.visionConfig(enc);
        assertEquals(VisionConfig.builder().imageSize(32).patchSize(8).width(32).layers(1).heads(2).mlpDim(64)
                .build(), vc);
        try (SafeTensors trained = SafeTensors.open(run.resolve("checkpoints/step-40/model.safetensors"));
             NDManager m = TestSupport.root().newSubManager()) {
            ParamStore p = new ParamStore(m, DataType.FLOAT32);
            VisionTransformer.load(enc, vc, p);
            Map<String, ai.djl.ndarray.types.Shape> names = VisionTransformer.expectedShapes(vc);
            assertEquals(names.keySet(), p.all().keySet());
            for (String name : names.keySet()) {
                assertArrayEquals(trained.floats(name), p.get(name).toFloatArray(), 0f, name);
            }

            // … and mm1 pretrain starts from it through model.vision.init (frozen: the weights come out unchanged)
            Path pt = tmp.resolve("pretrain");
            PretrainRuns.Cli pr = PretrainRuns.pretrain(pt, "--steps", "2", "--set",
                    "model.vision={\"init\":\"" + enc + "\"}", "--set", "train.freeze=[\"vision\"]");
            assertEquals(0, pr.code(), pr.err());
            try (Mm1Model model = Mm1Model.load(pt.resolve("model"), m, DataType.FLOAT32)) {
                assertEquals(vc, model.config().vision());
                for (String name : names.keySet()) {
                    assertArrayEquals(trained.floats(name), model.params().get(name).toFloatArray(), 0f, name);
                }
            }
        }
    }

    @Test
    void stoppedAndResumedRunLogsTheLossesOfAStraightRun() throws Exception {
        String[] common = {"--steps", "6", "--set", "train.eval_interval=3"};
        Path straight = tmp.resolve("straight");
        Path split = tmp.resolve("split");
        assertEquals(0, clip(straight, common).code());
        PretrainRuns.Cli first = clip(split, concat(common, "--stop-at-step", "3"));
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("stopped after step 3"), first.out());
        assertFalse(Files.exists(split.resolve("encoder")), "a stopped run has no encoder yet");
        PretrainRuns.Cli second = cli("clip", "--out", split.toString(), "--resume");
        assertEquals(0, second.code(), second.err());
        assertTrue(second.out().contains("finished after step 6"), second.out());
        assertEquals(losses(straight), losses(split), "steps 1…6, bit for bit");
        assertFalse(second.err().contains("--resume from step"), second.err());
        assertFalse(Files.readString(split.resolve("run.json")).contains("\"resumes\""), "an unchanged resume");
        for (String key : List.of("valLoss", "retrieval/t2i@1", "retrieval/i2t@5")) {
            assertEquals(PretrainRuns.line(straight, 6, key).get(key).asDouble(),
                    PretrainRuns.line(split, 6, key).get(key).asDouble(), 0, key);
        }
        PretrainRuns.Cli changed = clip(split, concat(common, "--resume", "--set", "train.batch_size=16"));
        assertEquals(1, changed.code());
        assertTrue(changed.err().contains("--resume: 'train.batch_size' differs from the checkpoint's run"),
                changed.err());
    }

    /**
     * model.vision.init may name the clip run folder itself (its encoder/ is used); a run without encoder/ yet, or
     * one of its checkpoints (a CLIP training state, not a vision model), is refused naming the folder to give.
     */
    @Test
    void aClipRunFolderIsAVisionInitThroughItsEncoder() throws Exception {
        Path run = tmp.resolve("clip-run");
        PretrainRuns.Cli stopped = clip(run, "--steps", "2", "--stop-at-step", "1");
        assertEquals(0, stopped.code(), stopped.err());
        PretrainRuns.Cli early = PretrainRuns.pretrain(tmp.resolve("early"), "--steps", "1", "--set",
                "model.vision.init=" + run);
        assertEquals(1, early.code());
        assertEquals("mm1: error: model.vision.init: " + run + " is an `mm1 clip` run with no encoder/ yet (it is "
                + "written when the run completes): finish it with `mm1 clip --out " + run + " --resume`, then give "
                + run + " or " + run.resolve("encoder"), early.err().strip());
        Path step1 = run.resolve("checkpoints/step-1");
        PretrainRuns.Cli ckpt = PretrainRuns.pretrain(tmp.resolve("ckpt"), "--steps", "1", "--set",
                "model.vision.init=" + step1);
        assertEquals("mm1: error: model.vision.init: " + step1 + " is a checkpoint of an `mm1 clip` run (its "
                + "config.json is the CLIP training's, not a vision model's); give " + run.resolve("encoder")
                + " (written when the run completes)", ckpt.err().strip());
        assertFalse(Files.exists(tmp.resolve("early")) || Files.exists(tmp.resolve("ckpt")), "nothing written");

        assertEquals(0, cli("clip", "--out", run.toString(), "--resume").code());
        Path pt = tmp.resolve("from-run");
        PretrainRuns.Cli pr = PretrainRuns.pretrain(pt, "--steps", "1", "--set", "model.vision.init=" + run,
                "--set", "train.freeze=[\"vision\"]");
        assertEquals(0, pr.code(), pr.err());
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.load(pt.resolve("model"), m, DataType.FLOAT32)) {
            VisionConfig vc = PretrainedParts.visionConfig(run.resolve("encoder"));
            assertEquals(vc, model.config().vision());
            ParamStore p = new ParamStore(m, DataType.FLOAT32);
            VisionTransformer.load(run.resolve("encoder"), vc, p);
            for (String name : VisionTransformer.expectedShapes(vc).keySet()) { // frozen: the encoder's weights
                assertArrayEquals(p.get(name).toFloatArray(), model.params().get(name).toFloatArray(), 0f, name);
            }
        }
    }

    @Test
    void aimRunReducesTheNextPatchError() throws Exception {
        Path run = tmp.resolve("aim");
        PretrainRuns.Cli r = clip(run, "--objective", "aim", "--steps", "40", "--set", "train.eval_interval=40");
        assertEquals(0, r.code(), r.err());
        TreeMap<Long, String> loss = losses(run);
        double first = Double.parseDouble(loss.firstEntry().getValue());
        double last = loss.tailMap(36L).values().stream().mapToDouble(Double::parseDouble).average().orElseThrow();
        // standardised targets: predicting 0 everywhere costs 1.0; the trained head must do better than that
        assertTrue(first > 1.0, "first loss " + first);
        assertTrue(last < 0.85 * first && last < 1.0, "loss " + first + " → " + last + " (mean of steps 36–40)");
        JsonNode s = PretrainRuns.JSON.readTree(run.resolve("summary.json").toFile());
        assertEquals("aim", s.get("objective").asText());
        assertFalse(s.has("retrieval/t2i@1"), "AIM has no text tower: no retrieval");
        assertTrue(Files.isRegularFile(run.resolve("encoder/model.safetensors")));
    }

    @Test
    void badConfigValuesAreRefusedByName() {
        PretrainRuns.Cli r = clip(tmp.resolve("bad"), "--objective", "mae");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("objective must be \"clip\" (contrastive) or \"aim\" (autoregressive patch "
                + "regression), got mae"), r.err());
        PretrainRuns.Cli typo = clip(tmp.resolve("bad2"), "--set", "model.txt.width=8");
        assertEquals(1, typo.code());
        assertTrue(typo.err().contains("unknown key 'model.txt'; did you mean 'model.text'?"), typo.err());
        PretrainRuns.Cli batch = clip(tmp.resolve("bad3"), "--set", "train.batch_size=1");
        assertTrue(batch.err().contains("train.batch_size must be >= 2: a contrastive batch needs negatives"),
                batch.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
