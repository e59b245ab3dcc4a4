package io.mm1j.llava;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.TestSupport;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.ConnectorType;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.mllm.ImagePipeline;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.PromptBuilder;
import io.mm1j.tokenizer.BpeTrainer;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.RgbImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 export --format llava}: what mm1j trained runs as a LLaVA folder, and LLaVA folders round-trip. */
class LlavaExportTest {
    @TempDir
    Path tmp;

    /** An mm1j tiny-test model with an MLP connector (k = the 16 patches), saved with an mm1j tokenizer. */
    private Path mm1jMlpModel() throws Exception {
        Mm1Config tiny = Presets.load("tiny-test");
        Mm1Config cfg = new Mm1Config("tiny-mlp", "tiny-test with an MLP connector", tiny.llm(),
                io.mm1j.config.VisionConfig.builder().imageSize(32).patchSize(8).width(32).layers(2).heads(2)
                        .mlpDim(64).activation("quick_gelu").featureLayer(-2).build(),
                new ConnectorConfig(ConnectorType.MLP, 16, 0), 16);
        Path dir = tmp.resolve("mm1j");
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
            model.save(dir);
        }
        new BpeTrainer(cfg.llm().vocabSize(), 2).add("a cat on a mat with a red hat and a dog in the fog")
                .train().write(dir.resolve("tokenizer.json"));
        return dir;
    }

    private static void assertSameParameters(Mm1Model a, Mm1Model b) {
        Map<String, NDArray> pa = a.params().all();
        Map<String, NDArray> pb = b.params().all();
        assertEquals(pa.keySet(), pb.keySet());
        for (String n : pa.keySet()) {
            assertArrayEquals(pa.get(n).toFloatArray(), pb.get(n).toFloatArray(), n);
        }
    }

    /** Logits of one prompt with one picture, built the model's own way (tokenizer, pipeline, splice). */
    private static float[] logits(Mm1Model model, Path dir, RgbImage image, String prompt, NDManager m) {
        return logits(model, dir, image, model.imagePipeline().prepare(image, m), prompt, m);
    }

    /** As above with given pixels (an mm1j model resizes in float32, a LLaVA folder as PIL: ties may differ). */
    private static float[] logits(Mm1Model model, Path dir, RgbImage image, ImagePipeline.Prepared p, String prompt,
                                  NDManager m) {
        try (Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"))) {
            long[] ids = new PromptBuilder(model, tok).fromText(prompt, List.of(image)).ids();
            NDArray embeds = model.inputEmbeddings(m.create(ids, new Shape(1, ids.length)), List.of(p),
                    model.imageTokenId(tok));
            return model.decoder().forward(embeds, null, null, false).logits().toFloatArray();
        }
    }

    @Test
    void mm1jMlpModelExportsToALlavaFolderWithIdenticalWeightsAndLogits() throws Exception {
        Path src = mm1jMlpModel();
        Path out = tmp.resolve("llava");
        TestSupport.CliRun r = TestSupport.cli("export", "--model", src.toString(), "--format", "llava", "--out",
                out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(LlavaConfig.isLlava(out.resolve("config.json")));
        RgbImage image = new ImageIoLoader().load(LlavaParityTest.FIXTURES.resolve("llava15-legacy/image.png"));
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model mm1j = Mm1Model.load(src, m, DataType.FLOAT32);
             Mm1Model llava = Mm1Model.load(out, m, DataType.FLOAT32)) {
            assertSameParameters(mm1j, llava);
            assertEquals(16, llava.imagePipeline().tokens(50, 71));
            ImagePipeline.Prepared pixels = mm1j.imagePipeline().prepare(image, m);
            assertArrayEquals(logits(mm1j, src, image, pixels, "a cat <image> on a mat", m),
                    logits(llava, out, image, pixels, "a cat <image> on a mat", m));
        }
    }

    @Test
    void llavaFolderRoundTripIsBitExact() throws Exception {
        for (String fixture : List.of("llava15-legacy", "llava-next-new")) {
            Path src = LlavaParityTest.FIXTURES.resolve(fixture);
            Path once = tmp.resolve(fixture + "-once");
            Path twice = tmp.resolve(fixture + "-twice");
            assertEquals(0, TestSupport.cli("export", "--model", src.toString(), "--format", "llava", "--out",
                    once.toString(), "--layout", "new").code());
            assertEquals(0, TestSupport.cli("export", "--model", once.toString(), "--format", "llava", "--out",
                    twice.toString(), "--layout", "new").code());
            for (String f : List.of("model.safetensors", "config.json", "preprocessor_config.json",
                    "tokenizer.json")) {
                assertArrayEquals(Files.readAllBytes(once.resolve(f)), Files.readAllBytes(twice.resolve(f)), f);
            }
            RgbImage image = new ImageIoLoader().load(src.resolve("image.png"));
            String prompt = LlavaParityTest.expected(fixture).get("prompt").asText();
            try (NDManager m = TestSupport.root().newSubManager();
                 Mm1Model a = Mm1Model.load(src, m, DataType.FLOAT32);
                 Mm1Model b = Mm1Model.load(once, m, DataType.FLOAT32)) {
                assertSameParameters(a, b);
                assertArrayEquals(logits(a, src, image, prompt, m), logits(b, once, image, prompt, m), fixture);
            }
        }
    }

    /** A model that tiles pictures (MM1's high-resolution SFT) would load from a LLaVA folder as one image each. */
    @Test
    void aTiledModelIsRefusedNotExportedWithoutItsTiling() throws Exception {
        Path plain = mm1jMlpModel();
        Path tiled = tmp.resolve("tiled");
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.load(plain, m, DataType.FLOAT32)
                     .withHighRes(io.mm1j.config.HighResConfig.mm1(), 32)) {
            model.save(tiled);
        }
        Files.copy(plain.resolve("tokenizer.json"), tiled.resolve("tokenizer.json"));
        TestSupport.CliRun r = TestSupport.cli("export", "--model", tiled.toString(), "--format", "llava", "--out",
                tmp.resolve("y").toString());
        assertEquals(1, r.code());
        assertEquals("mm1: error: export --format llava: model 'tiny-mlp' tiles each picture into high-resolution "
                + "sub-images (MM1 §3.4, config.json highRes), which a LLaVA folder cannot say: it would load as one "
                + "32 px image per picture; use --format hf (keeps the tiling), or sft --no-high-res for a model "
                + "without it\n", r.err());
        assertTrue(Files.notExists(tmp.resolve("y")));
    }

    @Test
    void connectorsWithoutALlavaEquivalentAreRefused() {
        Path dir = tmp.resolve("tiny");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString()).code());
        TestSupport.CliRun r = TestSupport.cli("export", "--model", dir.toString(), "--format", "llava", "--out",
                tmp.resolve("x").toString());
        assertEquals(1, r.code());
        assertEquals("mm1: error: export --format llava: model 'tiny-test' has a avgpool connector, which LLaVA has "
                + "no equivalent for (its projector is an MLP); such models need the full-model Hugging Face export, "
                + "a separate feature\n", r.err());
        assertTrue(Files.notExists(tmp.resolve("x")));
    }
}
