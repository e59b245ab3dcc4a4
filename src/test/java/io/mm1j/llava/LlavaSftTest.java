package io.mm1j.llava;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.TestSupport;
import io.mm1j.io.JsonFiles;
import io.mm1j.llm.Decoder;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mm1 sft --init} on a LLaVA folder whose vocabulary is padded the way llava-hf's are (llava-1.5: 32 000
 * Llama tokens + {@code <image>} + {@code <pad>} = 32 002 ids, 32 064 embedding rows). Here: the llava15-new fixture
 * (38 words, {@code <image>} = 39, 48 rows) with {@code <pad>} added as id 40, so the tokenizer has 41 ids and rows
 * 41..47 are padding.
 */
class LlavaSftTest {
    private static final int TOKENIZER_IDS = 41;
    private static final int ROWS = 48;
    private static final String PROMPT = "USER: <image>describe the picture . ASSISTANT:";

    @TempDir
    static Path tmp;
    static Path padded;
    static Path data;

    @BeforeAll
    static void folders() throws Exception {
        padded = tmp.resolve("llava-padded");
        copyFolder(LlavaParityTest.FIXTURES.resolve("llava15-new"), padded);
        ObjectNode tok = (ObjectNode) JsonFiles.read(padded.resolve("tokenizer.json"));
        ((ArrayNode) tok.get("added_tokens")).addObject().put("id", 40).put("content", "<pad>")
                .put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false)
                .put("special", true);
        Files.writeString(padded.resolve("tokenizer.json"), tok.toString());
        try (Tokenizer t = Tokenizer.load(padded.resolve("tokenizer.json"))) {
            assertEquals(TOKENIZER_IDS, t.vocabSize());
        }
        assertEquals(ROWS, LlavaConfig.read(padded.resolve("config.json")).text().vocabSize());

        data = tmp.resolve("data"); // apart from the runs: a run inside the images folder would change its files
        Files.createDirectories(data);
        Files.copy(padded.resolve("image.png"), data.resolve("image.png"));
        Files.writeString(data.resolve("conv.json"), """
                [{"id": "a", "image": "image.png", "conversations": [
                   {"from": "human", "value": "<image>\\ndescribe the picture ."},
                   {"from": "gpt", "value": "a red cat on the mat ."}]},
                 {"id": "b", "image": "image.png", "conversations": [
                   {"from": "human", "value": "<image>\\nwhat is the sky"},
                   {"from": "gpt", "value": "the sky is blue ."}]},
                 {"id": "c", "image": "image.png", "conversations": [
                   {"from": "human", "value": "<image>\\ndescribe the picture ."},
                   {"from": "gpt", "value": "a big dog and a small tree ."}]}]
                """);
    }

    private static void copyFolder(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (var s = Files.list(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
    }

    /** A copy of the padded folder, named {@code name}, with the JSON of {@code file} changed by {@code edit}. */
    private static Path variant(String name, String file, java.util.function.Consumer<ObjectNode> edit)
            throws Exception {
        Path dir = tmp.resolve(name);
        copyFolder(padded, dir);
        ObjectNode json = (ObjectNode) JsonFiles.read(dir.resolve(file));
        edit.accept(json);
        Files.writeString(dir.resolve(file), json.toString());
        return dir;
    }

    private static TestSupport.CliRun sft(Path init, Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("sft", "--init", init.toString(), "--data",
                data.resolve("conv.json").toString(), "--images", data.toString(), "--steps", "2", "--seed", "0",
                "--set", "train.batch_size=2", "--set", "data.seq_len=64", "--set", "data.val_fraction=0",
                "--set", "train.eval_interval=0", "--set", "optim.lr=1e-2", "--out", out.toString()));
        args.addAll(List.of(extra));
        return TestSupport.cli(args.toArray(String[]::new));
    }

    private static List<String> losses(Path run) throws Exception {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            JsonNode n = JsonFiles.MAPPER.readTree(line);
            if (n.has("loss")) {
                out.add(n.get("loss").asText());
            }
        }
        return out;
    }

    private static float[] rows(NDArray table, int from, int to) {
        long width = table.getShape().get(1);
        return Arrays.copyOfRange(table.toFloatArray(), (int) (from * width), (int) (to * width));
    }

    /**
     * The padded folder trains (it was refused: "the model's vocabulary (48) differs from the run tokenizer's (41)"),
     * every row is kept, and the rows past the tokenizer are never an input: their embeddings come out unchanged
     * (sft has no weight decay), while the rows of real tokens moved.
     */
    @Test
    void sftTrainsAPaddedLlavaFolderAndKeepsThePaddingRows() throws Exception {
        Path run = tmp.resolve("run");
        TestSupport.CliRun r = sft(padded, run);
        assertEquals(0, r.code(), r.err());
        assertEquals(2, losses(run).size());
        Path model = run.resolve("model");
        assertTrue(LlavaConfig.isLlava(model.resolve("config.json")), "written back as a LLaVA folder");
        assertEquals(ROWS, LlavaConfig.read(model.resolve("config.json")).text().vocabSize());
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model before = Mm1Model.load(padded, m, DataType.FLOAT32);
             Mm1Model after = Mm1Model.load(model, m, DataType.FLOAT32)) {
            NDArray b = before.params().get(Decoder.EMBED);
            NDArray a = after.params().get(Decoder.EMBED);
            assertEquals(b.getShape(), a.getShape());
            assertEquals(ROWS, a.getShape().get(0));
            assertArrayEquals(rows(b, TOKENIZER_IDS, ROWS), rows(a, TOKENIZER_IDS, ROWS));
            assertTrue(!Arrays.equals(rows(b, 0, TOKENIZER_IDS), rows(a, 0, TOKENIZER_IDS)), "real rows trained");
            assertEquals(ROWS, after.params().get(Decoder.LM_HEAD).getShape().get(0));
        }
    }

    /**
     * The fine-tuned folder exports as the original does: the same config.json (vocab_size 48, image_token_index,
     * the "full" strategy, no projector bias) and tokenizer, weights of the same shapes, and generate reads the
     * export as it reads the run's model.
     */
    @Test
    void theFineTunedModelExportsToALlavaFolderOfTheSameShapeAndGenerates() throws Exception {
        Path run = tmp.resolve("run-export");
        assertEquals(0, sft(padded, run).code());
        Path fromSource = tmp.resolve("export-source");
        Path fromRun = tmp.resolve("export-run");
        for (Path[] p : new Path[][] {{padded, fromSource}, {run, fromRun}}) {
            TestSupport.CliRun e = TestSupport.cli("export", "--model", p[0].toString(), "--format", "llava",
                    "--out", p[1].toString());
            assertEquals(0, e.code(), e.err());
        }
        for (String f : List.of("config.json", "preprocessor_config.json", "processor_config.json",
                "tokenizer.json")) {
            assertEquals(Files.readString(fromSource.resolve(f)), Files.readString(fromRun.resolve(f)), f);
        }
        JsonNode cfg = JsonFiles.read(fromRun.resolve("config.json"));
        assertEquals(ROWS, cfg.path("text_config").path("vocab_size").asInt());
        try (io.mm1j.tensor.SafeTensors a = io.mm1j.tensor.SafeTensors.open(fromSource.resolve("model.safetensors"));
             io.mm1j.tensor.SafeTensors b = io.mm1j.tensor.SafeTensors.open(fromRun.resolve("model.safetensors"))) {
            assertEquals(new java.util.TreeSet<>(a.names()), new java.util.TreeSet<>(b.names()));
            for (String n : a.names()) {
                assertArrayEquals(a.entry(n).shape(), b.entry(n).shape(), n);
            }
            assertArrayEquals(new long[] {ROWS, 32}, b.entry("language_model.model.embed_tokens.weight").shape());
        }
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.load(run.resolve("model"), m, DataType.FLOAT32);
             Mm1Model exported = Mm1Model.load(fromRun, m, DataType.FLOAT32)) {
            Map<String, NDArray> pa = model.params().all();
            assertEquals(pa.keySet(), exported.params().all().keySet());
            for (String n : pa.keySet()) {
                assertArrayEquals(pa.get(n).toFloatArray(), exported.params().get(n).toFloatArray(), n);
            }
        }
        String image = data.resolve("image.png").toString();
        TestSupport.CliRun g1 = TestSupport.cli("generate", "--model", run.toString(), "--image", image,
                "--prompt", PROMPT, "--max-tokens", "4");
        TestSupport.CliRun g2 = TestSupport.cli("generate", "--model", fromRun.toString(), "--image", image,
                "--prompt", PROMPT, "--max-tokens", "4");
        assertEquals(0, g1.code(), g1.err());
        assertEquals(g1.out(), g2.out());
    }

    /** A run from a LLaVA folder checkpoints LLaVA folders, and resumes from one exactly. */
    @Test
    void aRunFromALlavaFolderResumesExactly() throws Exception {
        Path whole = tmp.resolve("run-whole");
        Path split = tmp.resolve("run-split");
        assertEquals(0, sft(padded, whole).code());
        assertEquals(0, sft(padded, split, "--stop-at-step", "1").code());
        assertTrue(LlavaConfig.isLlava(split.resolve("checkpoints/step-1/config.json")));
        TestSupport.CliRun r = TestSupport.cli("sft", "--out", split.toString(), "--resume");
        assertEquals(0, r.code(), r.err());
        assertEquals(losses(whole), losses(split));
        assertArrayEquals(Files.readAllBytes(whole.resolve("model/model.safetensors")),
                Files.readAllBytes(split.resolve("model/model.safetensors")));
    }

    /** A tokenizer with ids past the embedding is a genuine mismatch: one line, the user's files, both numbers. */
    @Test
    void aTokenizerLargerThanTheEmbeddingIsRefused() throws Exception {
        Path big = variant("llava-big-tokenizer", "tokenizer.json", tok -> {
            for (int id = TOKENIZER_IDS; id < ROWS + 2; id++) {
                ((ArrayNode) tok.get("added_tokens")).addObject().put("id", id).put("content", "<extra_" + id + ">")
                        .put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false)
                        .put("special", true);
            }
        });
        Path out = tmp.resolve("run-big");
        TestSupport.CliRun r = sft(big, out);
        assertEquals(1, r.code());
        assertEquals("mm1: error: --init " + big + ": " + big.resolve("tokenizer.json") + " has 50 token ids, more "
                + "than the model's 48 embedding rows (vocab_size in " + big.resolve("config.json") + ")\n", r.err());
        assertTrue(Files.notExists(out));
    }

    /**
     * A tokenizer.json the native tokenizer cannot read is named as the user's file; it was named as the run's
     * temporary copy ({@code RUN/tokenizer.json.asked}), which the failed start then removed.
     */
    @Test
    void anUnreadableTokenizerIsRefusedNamingTheFoldersFile() throws Exception {
        Path broken = variant("llava-broken-tokenizer", "tokenizer.json",
                tok -> ((ObjectNode) tok.get("added_tokens").get(0)).remove("single_word"));
        Path out = tmp.resolve("run-broken");
        TestSupport.CliRun r = sft(broken, out);
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("mm1: error: " + broken.resolve("tokenizer.json") + ": cannot load "
                + "tokenizer: missing field `single_word`"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(Files.notExists(out));
    }

    /** A hidden size that disagrees with the weights is refused by the loader, naming the file and both shapes. */
    @Test
    void aHiddenSizeThatDisagreesIsRefused() throws Exception {
        Path wide = variant("llava-wide", "config.json",
                cfg -> ((ObjectNode) cfg.get("text_config")).put("hidden_size", 64));
        Path out = tmp.resolve("run-wide");
        TestSupport.CliRun r = sft(wide, out);
        assertEquals(1, r.code());
        assertEquals("mm1: error: " + wide.resolve("model.safetensors") + ": tensor "
                + "'model.language_model.embed_tokens.weight' has shape (48, 32) but the config needs (48, 64)\n",
                r.err());
        assertTrue(Files.notExists(out));
    }

    /** The data path pads rows with {@code <pad>}: a tokenizer without one is refused naming the folder's file. */
    @Test
    void aTokenizerWithoutPadIsRefusedNamingTheFoldersFile() {
        Path fixture = LlavaParityTest.FIXTURES.resolve("llava15-new"); // <image> but no <pad>
        Path out = tmp.resolve("run-no-pad");
        TestSupport.CliRun r = sft(fixture, out);
        assertEquals(1, r.code());
        assertEquals("mm1: error: " + fixture.resolve("tokenizer.json") + ": no special token <pad> (mm1j's data "
                + "path pads rows with <pad> and marks image slots with <image>)\n", r.err());
        assertTrue(Files.notExists(out));
    }

    /**
     * MM1's sub-image tiling rebuilds the model from an mm1j config, which cannot say a LLaVA folder's image path:
     * refused before the run folder is made. (The trainer's replicas are refused the same way, for the same
     * reason; they only exist on CUDA devices.)
     */
    @Test
    void highResTilingIsRefusedForALlavaFolder() {
        Path out = tmp.resolve("run-high-res");
        TestSupport.CliRun r = sft(padded, out, "--high-res");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("mm1: error: model.high_res: model '"), r.err());
        assertTrue(r.err().endsWith("was loaded from a LLaVA folder, which keeps its own image pipeline (LLaVA-NeXT "
                + "tiles pictures itself); high-resolution tiling (--high-res) is for mm1j models\n"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(Files.notExists(out));
    }
}
