package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.cli.Main;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.MoeConfig;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.tokenizer.BpeTrainer;
import io.mm1j.tokenizer.SpecialTokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpcycleTest {
    @TempDir
    Path tmp;

    /** A random tiny-test model (byte vocabulary) saved as a model folder with its tokenizer. */
    private Path denseModel(boolean vision) {
        Path dir = tmp.resolve(vision ? "dense-mm" : "dense");
        Mm1Config p = Presets.load("tiny-test");
        Mm1Config c = p.withLlm(p.llm().withVocab(SpecialTokens.COUNT + 256));
        if (!vision) {
            c = new Mm1Config("dense", "text-only tiny-test", c.llm(), null, null, 0);
        }
        try (NDManager m = Engines.newRootManager(7); Mm1Model d = Mm1Model.init(c, m, DataType.FLOAT32)) {
            d.save(dir);
        }
        new BpeTrainer(SpecialTokens.COUNT + 256, 1).add("bytes").train().write(dir.resolve("tokenizer.json"));
        return dir;
    }

    @Test
    void upcycledModelComputesTheDenseLogitsAtInit() {
        Path dense = denseModel(true);
        Path moe = tmp.resolve("moe");
        Mm1Config c = Upcycle.run(dense, 4, 1, moe, false, 0);
        assertEquals(MoeConfig.mm1(4, 1), c.llm().moe(), "MM1 routing: top-2, balance 0.01, z 0.001");
        assertTrue(Files.isRegularFile(moe.resolve("tokenizer.json")));
        try (NDManager m = Engines.newRootManager(1);
             Mm1Model d = Mm1Model.load(dense, m, DataType.FLOAT32);
             Mm1Model u = Mm1Model.load(moe, m, DataType.FLOAT32)) {
            assertNull(d.config().llm().moe());
            assertNotNull(u.config().llm().moe());
            assertTrue(u.params().contains("model.layers.1.block_sparse_moe.experts.w1.weight"));
            assertFalse(u.params().contains("model.layers.1.mlp.gate_proj.weight"));
            NDArray ids = m.randomInteger(8, 260, new Shape(2, 12), DataType.INT64);
            NDArray dl = d.forward(ids, null, SpecialTokens.IMAGE_ID).logits();
            NDArray ul = u.forward(ids, null, SpecialTokens.IMAGE_ID).logits();
            double diff = dl.sub(ul).abs().max().getFloat();
            assertTrue(diff < 1e-5, "max |dense − upcycled| logit = " + diff);
            assertTrue(dl.abs().max().getFloat() > 1e-3, "logits are not trivially zero");
        }
    }

    @Test
    void upcyclingAnMoeModelOrWithTooLargeKIsRefused() {
        Path dense = denseModel(false);
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> Upcycle.run(dense, 4, 3, tmp.resolve("x"), false, 0));
        assertTrue(e.getMessage().contains("--every 3"), e.getMessage());
        Upcycle.run(dense, 4, 2, tmp.resolve("moe"), false, 0);
        e = assertThrows(Mm1Exception.class, () -> Upcycle.run(tmp.resolve("moe"), 4, 2, tmp.resolve("y"), false, 0));
        assertTrue(e.getMessage().contains("already"), e.getMessage());
    }

    @Test
    void pretrainInitContinuesTheUpcycledModelWithItsAuxiliaryLosses() throws Exception {
        Path dense = denseModel(false);
        Path moe = tmp.resolve("moe");
        assertEquals(0, Main.run("upcycle", "--model", dense.toString(), "--experts", "4", "--every", "2", "--out",
                moe.toString()));
        StringBuilder text = new StringBuilder();
        for (int i = 0; text.length() < 30_000; i++) {
            text.append("a line of text number ").append(i % 17).append(".\n\n");
        }
        Path corpus = tmp.resolve("corpus.txt");
        Files.writeString(corpus, text);
        RunConfig rc = RunConfig.resolve(null, Map.of("model.preset", "tiny-test", "train.steps", "2"), List.of(
                "model.vision=false", "model.connector=false", "tokenizer=" + moe.resolve("tokenizer.json"),
                "data.sources=[{\"name\":\"text\",\"format\":\"text\",\"path\":\"" + corpus + "\"}]",
                "data.seq_len=32", "train.batch_size=2", "train.eval_interval=2", "optim.warmup_steps=1"));
        Path run = tmp.resolve("run");
        Pretrainer.Result r = Pretrainer.run(new Pretrainer.Options(run, rc, false, false, moe, 0),
                new Pretrainer.Progress() {
                    public void start(long a, long b, String c) {}

                    public void step(long s, Map<String, Double> m) {}

                    public void eval(long s, Map<String, Double> m) {}

                    public void finish() {}
                });
        assertTrue(r.complete());
        List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
        JsonNode first = RunConfig.JSON.readTree(lines.get(0));
        assertTrue(first.path("moe/aux").asDouble() > 0, "balance + z losses are trained: " + first);
        Mm1Config saved = Presets.read(run.resolve("model/config.json"));
        assertEquals(MoeConfig.mm1(4, 2), saved.llm().moe());

        // run.json records what the run resolved to (the --init model, its counts, the law's LR at its N), and
        // --dry-run with the same --init plans exactly that
        JsonNode resolved = RunConfig.JSON.readTree(run.resolve("run.json").toFile()).path("_run").path("resolved");
        JsonNode plan = Pretrainer.plan(rc, 0, moe);
        for (String key : List.of("model", "params", "lr.peak", "warmupSteps", "tokensPerStep")) {
            assertEquals(plan.get(key).toString(), resolved.get(key).toString(), key);
        }
        assertEquals(MoeConfig.mm1(4, 2).numExperts(), resolved.path("model").path("llm").path("moe")
                .path("numExperts").asInt(), resolved.toString());
        assertEquals(ParamCount.all(saved).get("active"), resolved.path("params").path("active").asLong());
        assertEquals(1, resolved.get("warmupSteps").asInt());
    }

    /**
     * The commit recorded in run.json is the build's (git.properties): a commit of this repository, whatever folder
     * the run starts in (a build outside a clone records "unknown").
     */
    @Test
    void gitCommitIsTheBuildsCommit() throws Exception {
        String c = Pretrainer.gitCommit();
        if (!Files.exists(Path.of(".git"))) { // a folder, or a file in a worktree
            assertEquals("unknown", c);
            return;
        }
        assertTrue(c.matches("[0-9a-f]{40}(\\+dirty)?"), c);
        Process p = new ProcessBuilder("git", "cat-file", "-e", c.substring(0, 40) + "^{commit}")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), "not a commit of this repository: " + c + " " + out);
    }
}
