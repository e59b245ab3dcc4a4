package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import io.mm1j.io.JsonFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 sft} end to end on a tiny model: it learns, LoRA writes PEFT files, the adapter path equals the merge. */
class SftCommandTest {
    @TempDir
    static Path tmp;
    static Path base;
    static Path data;

    @BeforeAll
    static void init() {
        base = tmp.resolve("base");
        data = tmp.resolve("syn");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", base.toString(), "--seed", "1")
                .code());
        assertEquals(0, TestSupport.cli("data", "synth", "--out", data.toString(), "--images", "30", "--size", "32")
                .code());
    }

    private static TestSupport.CliRun sft(Path out, String... extra) {
        return sft(base, out, extra);
    }

    private static TestSupport.CliRun sft(Path init, Path out, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("sft", "--init", init.toString(), "--data",
                data.resolve("llava/train.json").toString(), "--images", data.resolve("images/train").toString(),
                "--seed", "0", "--set", "train.batch_size=4", "--set", "data.seq_len=128", "--set",
                "data.val_fraction=0.2", "--out", out.toString()));
        args.addAll(List.of(extra));
        return TestSupport.cli(args.toArray(String[]::new));
    }

    private static JsonNode summary(Path run) {
        return JsonFiles.read(run.resolve("summary.json"));
    }

    /** 30 AdaFactor steps on the conversations: validation loss on the assistant tokens falls below 60% of step 1's. */
    @Test
    void fullFineTuningLowersTheAssistantLoss() throws Exception {
        Path run = tmp.resolve("full");
        TestSupport.CliRun r = sft(run, "--steps", "30", "--set", "optim.lr=1e-2", "--set", "train.eval_interval=30");
        assertEquals(0, r.code(), r.err());
        JsonNode s = summary(run);
        double first = JsonFiles.MAPPER.readTree(Files.readAllLines(run.resolve("metrics.jsonl")).get(0))
                .get("loss").asDouble();
        assertTrue(s.get("finalValLoss").asDouble() < 0.6 * first, "val " + s.get("finalValLoss") + " vs first "
                + first);
        assertEquals("AdaFactor", s.get("optimizer").asText());
        assertTrue(Files.isRegularFile(run.resolve("model/tokenizer_config.json"))); // the chat template travels
        // eval --template chat prompts the fine-tuned model the way it was trained
        Path ev = tmp.resolve("eval-chat");
        TestSupport.CliRun e = TestSupport.cli("eval", "--model", run.resolve("model").toString(), "--task", "vqav2",
                "--data", data.toString(), "--split", "val", "--template", "chat", "--limit", "2", "--log-samples",
                "--out", ev.toString());
        assertEquals(0, e.code(), e.err());
        JsonNode sample = JsonFiles.MAPPER.readTree(Files.readAllLines(ev.resolve("samples.jsonl")).get(0));
        assertEquals("<s><|user|><image>how many shapes are there?<|end|><|assistant|>", sample.get("prompt").asText());
        assertTrue(JsonFiles.read(ev.resolve("scores.json")).at("/prompt/template").asText().startsWith("chat: "));
    }

    /**
     * LoRA: PEFT files in adapter/, the optimiser state far below full fine-tuning's, and generating with the
     * adapter (unmerged) gives the same greedy text as the model {@code merge-lora} writes.
     */
    @Test
    void loraAdapterGeneratesAsTheMergedModel() {
        Path run = tmp.resolve("lora");
        TestSupport.CliRun r = sft(run, "--steps", "8", "--set", "optim.lr=3e-2", "--set", "train.eval_interval=8",
                "--lora", "rank=4,alpha=8,targets=q_proj,v_proj,o_proj,down_proj");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("LoRA r=4"), r.out());
        JsonNode s = summary(run);
        assertEquals(s.get("lora").get("parameters").asLong(), s.get("trainableParameters").asLong());
        assertTrue(s.get("optimizerStateBytes").asLong() * 5 < s.get("fullFineTuningOptimizerStateBytes").asLong(),
                s.toString());
        assertTrue(Files.isRegularFile(run.resolve("adapter/adapter_config.json")));
        assertTrue(Files.isRegularFile(run.resolve("adapter/adapter_model.safetensors")));
        Path merged = tmp.resolve("merged");
        TestSupport.CliRun m = TestSupport.cli("merge-lora", "--model", base.toString(), "--adapter",
                run.resolve("adapter").toString(), "--out", merged.toString());
        assertEquals(0, m.code(), m.err());
        String prompt = "<|user|>how many shapes are there?<|end|><|assistant|>";
        TestSupport.CliRun a = TestSupport.cli("generate", "--model", base.toString(), "--adapter",
                run.resolve("adapter").toString(), "--prompt", prompt, "--max-tokens", "12");
        TestSupport.CliRun b = TestSupport.cli("generate", "--model", merged.toString(), "--prompt", prompt,
                "--max-tokens", "12");
        TestSupport.CliRun plain = TestSupport.cli("generate", "--model", base.toString(), "--prompt", prompt,
                "--max-tokens", "12");
        assertEquals(0, a.code(), a.err());
        assertEquals(b.out(), a.out());
        assertFalse(plain.out().equals(a.out()), "the adapter should change the base model's reply: " + a.out());
    }

    /** A LoRA run stopped at step 2 and resumed logs the same losses as one that never stopped. */
    @Test
    void loraRunResumesExactly() throws Exception {
        resumesExactly("plain", "rank=2,targets=q_proj");
    }

    /**
     * The same with LoRA dropout: the masks of step s are drawn from an RNG seeded by (train.seed, s), so the
     * resumed run draws the masks the uninterrupted one drew (it used to restart the engine's stream at the seed).
     */
    @Test
    void loraRunWithDropoutResumesExactly() throws Exception {
        List<Double> losses = resumesExactly("dropout", "rank=2,dropout=0.5,targets=q_proj,v_proj");
        Path noDropout = tmp.resolve("no-dropout");
        assertEquals(0, sft(noDropout, "--steps", "4", "--set", "optim.lr=1e-2", "--set", "train.eval_interval=0",
                "--lora", "rank=2,targets=q_proj,v_proj").code());
        assertFalse(losses(noDropout).equals(losses), "dropout should change the losses: " + losses);
    }

    private static List<Double> resumesExactly(String name, String lora) throws Exception {
        String[] common = {"--steps", "4", "--set", "optim.lr=1e-2", "--set", "train.eval_interval=0", "--lora",
            lora};
        Path whole = tmp.resolve("whole-" + name);
        Path parts = tmp.resolve("parts-" + name);
        assertEquals(0, sft(whole, common).code());
        List<String> first = new java.util.ArrayList<>(List.of(common));
        first.addAll(List.of("--stop-at-step", "2"));
        assertEquals(0, sft(parts, first.toArray(String[]::new)).code());
        TestSupport.CliRun r = TestSupport.cli("sft", "--out", parts.toString(), "--resume");
        assertEquals(0, r.code(), r.err());
        assertEquals(4, losses(whole).size());
        assertEquals(losses(whole), losses(parts));
        return losses(whole);
    }

    private static List<Double> losses(Path run) throws Exception {
        List<Double> out = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            JsonNode n = JsonFiles.MAPPER.readTree(line);
            if (n.has("loss")) {
                out.add(n.get("loss").asDouble());
            }
        }
        return out;
    }

    /**
     * As the README says: the default data.seq_len (256) is lowered to the --init model's context (tiny-test: 128),
     * with a line saying so; one the user set above it is refused, naming the largest that fits.
     */
    @Test
    void theDefaultSeqLenIsLoweredToTheModelsContextAndAnExplicitOneIsRefused() {
        List<String> common = List.of("sft", "--init", base.toString(), "--data",
                data.resolve("llava/train.json").toString(), "--images", data.resolve("images/train").toString(),
                "--steps", "1", "--set", "train.batch_size=2", "--set", "train.eval_interval=0");
        Path lowered = tmp.resolve("seq-default");
        List<String> args = new java.util.ArrayList<>(common);
        args.addAll(List.of("--out", lowered.toString()));
        TestSupport.CliRun r = TestSupport.cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("data.seq_len 256 → 128 (the --init model's max_position_embeddings)"), r.out());
        assertEquals(128, JsonFiles.read(lowered.resolve("run.json")).at("/data/seq_len").asInt());

        Path refused = tmp.resolve("seq-set");
        args = new java.util.ArrayList<>(common);
        args.addAll(List.of("--set", "data.seq_len=256", "--out", refused.toString()));
        r = TestSupport.cli(args.toArray(String[]::new));
        assertEquals(1, r.code(), r.out());
        assertEquals("mm1: error: data.seq_len 256 is longer than the --init model's 128 positions (maxPositions): set "
                + "--set data.seq_len=128 or less", r.err().lines().findFirst().orElse(""));
        assertFalse(Files.exists(refused.resolve("run.json")));
    }

    @Test
    void badConversationsAreRefusedBeforeAnythingIsWritten() throws Exception {
        Path bad = Files.writeString(tmp.resolve("bad.json"), """
                [{"id": "x", "image": "000000000001.png", "conversations": [
                  {"from": "human", "value": "<image> and <image>"}, {"from": "gpt", "value": "ok"}]}]""");
        Path run = tmp.resolve("bad-run");
        TestSupport.CliRun r = TestSupport.cli("sft", "--init", base.toString(), "--data", bad.toString(), "--images",
                data.resolve("images/train").toString(), "--steps", "2", "--out", run.toString());
        assertEquals(1, r.code());
        assertEquals("mm1: error: " + bad + ":1: bad record: image: 1 image(s) but 2 <image> tag(s) in "
                + "conversations", r.err().lines().findFirst().orElse(""));
        assertFalse(Files.exists(run));
    }

    @Test
    void loraRankLargerThanTheLayerLeavesNoRunFolder() {
        Path run = tmp.resolve("rank-run");
        TestSupport.CliRun r = sft(run, "--steps", "2", "--lora", "rank=40,targets=q_proj");
        assertEquals(1, r.code());
        assertEquals("mm1: error: --lora rank=40 is larger than layer 'model.layers.0.self_attn.q_proj' (32×32): "
                + "choose rank <= 32", r.err().lines().findFirst().orElse(""));
        assertFalse(Files.exists(run.resolve("run.json")));
    }

    /** {@code --crop} without {@code --high-res} used to be ignored: one line, no run folder. */
    @Test
    void cropWithoutHighResIsRefused() {
        Path run = tmp.resolve("crop-run");
        TestSupport.CliRun r = sft(run, "--steps", "1", "--crop", "48");
        assertEquals(1, r.code());
        assertEquals("mm1: error: model.high_res.crop (--crop) is the sub-image size of the high-resolution mode: it "
                + "needs model.high_res.enabled=true (--high-res), got enabled=null",
                r.err().lines().findFirst().orElse(""));
        assertFalse(Files.exists(run));
    }

    /**
     * data.seq_len 20 cuts every conversation before its first assistant token (the synthetic world's first question,
     * "<image>\nhow many shapes are there?", reaches it at position 28 with 4 image tokens): refused with the source,
     * the count and the length that would keep one, before any run folder exists (it used to train on loss 0 and
     * report that no validation ran).
     */
    @Test
    void conversationsWithNoAssistantTokenLeftAreRefused() throws Exception {
        Path run = tmp.resolve("short-run");
        TestSupport.CliRun r = sft(run, "--steps", "2", "--set", "data.seq_len=20");
        assertEquals(1, r.code(), r.out());
        String first = r.err().lines().findFirst().orElse("");
        Path json = data.resolve("llava/train.json").toAbsolutePath().normalize();
        assertTrue(first.startsWith("mm1: error: data.sources[0] 'sft' (" + json + "): every one of the "), first);
        assertTrue(first.endsWith(" conversations of its training split loses all its assistant tokens to truncation "
                + "at data.seq_len=20 (the prompt fills the row): raise data.seq_len to at least 28 (the shortest "
                + "prompt before an assistant token)"), first);
        assertFalse(Files.exists(run));
    }

    /** Only some conversations too long for data.seq_len: those are skipped and counted, the rest train. */
    @Test
    void conversationsWithNoAssistantTokenLeftAreSkippedWhenOthersRemain() throws Exception {
        com.fasterxml.jackson.databind.node.ArrayNode all = (com.fasterxml.jackson.databind.node.ArrayNode)
                JsonFiles.read(data.resolve("llava/train.json"));
        for (int i = 0; i < all.size(); i += 2) { // every second conversation opens with a 200-character prompt
            com.fasterxml.jackson.databind.node.ObjectNode turn = (com.fasterxml.jackson.databind.node.ObjectNode)
                    all.get(i).get("conversations").get(0);
            turn.put("value", "<image>\n" + "look at the picture very carefully. ".repeat(6) + "how many?");
        }
        Path mixed = tmp.resolve("mixed.json");
        Files.writeString(mixed, all.toString());
        Path run = tmp.resolve("mixed-run");
        TestSupport.CliRun r = TestSupport.cli("sft", "--init", base.toString(), "--data", mixed.toString(),
                "--images", data.resolve("images/train").toString(), "--seed", "0", "--steps", "4", "--set",
                "train.batch_size=4", "--set", "data.seq_len=64", "--set", "train.eval_interval=4", "--out",
                run.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode s = summary(run);
        assertTrue(s.get("samplesWithoutTargets").asLong() > 0, s.toString());
        assertTrue(Double.isFinite(s.get("finalValLoss").asDouble()), s.toString());
        double loss = JsonFiles.MAPPER.readTree(Files.readAllLines(run.resolve("metrics.jsonl")).get(0))
                .get("loss").asDouble();
        assertTrue(loss > 1, "the first step trains on assistant tokens: loss " + loss);
    }

    /**
     * {@code sft --init} takes the Hugging Face folder {@code mm1 export --format hf} writes (its config.json is a
     * LlamaForCausalLM's, which sft used to read as an mm1j config and refuse): the same weights, tokenizer and chat
     * template, so the same losses as fine-tuning the original folder.
     */
    @Test
    void anExportedHuggingFaceFolderFineTunesLikeTheModel() throws Exception {
        Path hf = tmp.resolve("hf-export");
        TestSupport.CliRun e = TestSupport.cli("export", "--model", base.toString(), "--format", "hf", "--out",
                hf.toString());
        assertEquals(0, e.code(), e.err());
        Path fromModel = tmp.resolve("from-model");
        Path fromExport = tmp.resolve("from-export");
        String[] common = {"--steps", "2", "--set", "optim.lr=1e-2", "--set", "train.eval_interval=0"};
        assertEquals(0, sft(fromModel, common).code());
        TestSupport.CliRun r = sft(hf, fromExport, common);
        assertEquals(0, r.code(), r.err());
        assertEquals(losses(fromModel), losses(fromExport));
        assertEquals(2, losses(fromExport).size());
    }

    /**
     * {@code train.freeze} and {@code train.lr_multipliers} reach the LoRA adapters on a component's layers:
     * {@code q_proj} adapts the LLM's two attention layers and the encoder's one; freezing "vision", or giving it
     * a multiplier of 0, leaves the encoder's adapter as initialised (B = 0) while the LLM's train. Frozen adapters
     * are not counted as trainable.
     */
    @Test
    void freezeAndLrMultipliersReachTheAdaptersOfAComponent() throws Exception {
        String lora = "rank=2,targets=q_proj";
        Path frozen = tmp.resolve("lora-frozen-vision");
        TestSupport.CliRun r = sft(frozen, "--steps", "2", "--set", "optim.lr=1e-2", "--set", "train.eval_interval=0",
                "--lora", lora, "--set", "train.freeze=[\"vision\"]");
        assertEquals(0, r.code(), r.err());
        assertEquals(2 * 2 * (32 + 32), summary(frozen).get("trainableParameters").asLong()); // the LLM's two only
        assertTrue(r.out().contains(": 384 trainable parameters (") && r.out().contains(", of which 256 trained "
                + "(train.freeze freezes the others), "), r.out());
        assertAdapters(frozen);
        Path zero = tmp.resolve("lora-zero-lr-vision");
        r = sft(zero, "--steps", "2", "--set", "optim.lr=1e-2", "--set", "train.eval_interval=0", "--lora", lora,
                "--set", "train.lr_multipliers={\"vision\": 0}");
        assertEquals(0, r.code(), r.err());
        assertEquals(3 * 2 * (32 + 32), summary(zero).get("trainableParameters").asLong());
        assertAdapters(zero);
        Path all = tmp.resolve("lora-all-frozen");
        r = sft(all, "--steps", "2", "--lora", lora, "--set", "train.freeze=[\"vision\", \"llm\"]");
        assertEquals(1, r.code());
        assertEquals("mm1: error: train.freeze [\"vision\",\"llm\"] freezes every weight of the model and every "
                + "LoRA adapter (an adapter is frozen with its component): nothing would train",
                r.err().lines().findFirst().orElse(""));
    }

    /** The encoder's lora_B is still all zero; every LLM lora_B has moved. */
    private static void assertAdapters(Path run) {
        try (io.mm1j.tensor.SafeTensors st = io.mm1j.tensor.SafeTensors.open(
                run.resolve("adapter/adapter_model.safetensors"))) {
            int vision = 0;
            int llm = 0;
            for (String key : st.names()) {
                if (!key.endsWith("lora_B.weight")) {
                    continue;
                }
                boolean moved = false;
                for (float v : st.floats(key)) {
                    moved |= v != 0;
                }
                if (key.startsWith("base_model.model.vision_model.")) {
                    vision++;
                    assertFalse(moved, key);
                } else {
                    llm++;
                    assertTrue(moved, key);
                }
            }
            assertEquals(1, vision);
            assertEquals(2, llm);
        }
    }
}
