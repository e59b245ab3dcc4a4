package io.mm1j.train;

import static io.mm1j.train.PretrainRuns.line;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.TestSupport;
import io.mm1j.config.VisionConfig;
import io.mm1j.data.Batch;
import io.mm1j.data.ImageRef;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleEncoder;
import io.mm1j.data.SequencePacker;
import io.mm1j.io.JsonFiles;
import io.mm1j.llm.Decoder;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tensor.WeightFiles;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.VisionTransformer;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code model.llm.init} / {@code model.vision.init}: a run starts from a Hugging Face Llama (stories260k) and a
 * CLIPVisionModel folder written here; the LLM's tokenizer gets mm1j's missing roles appended and the data path
 * writes them by role.
 */
class PretrainedPartsTest {
    @TempDir
    Path tmp;

    /** A tiny HF CLIPVisionModel folder (config.json + model.safetensors under HF names), random weights. */
    static Path tinyClip(Path dir, long seed) throws Exception {
        VisionConfig c = VisionConfig.builder().imageSize(32).patchSize(8).width(32).layers(2).heads(2).mlpDim(64)
                .activation("quick_gelu").build();
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"CLIPVisionModel\"], \"model_type\": "
                + "\"clip_vision_model\", \"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 2, "
                + "\"num_attention_heads\": 2, \"image_size\": 32, \"patch_size\": 8, \"hidden_act\": \"quick_gelu\","
                + " \"layer_norm_eps\": 1e-05, \"num_channels\": 3}");
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        Random r = new Random(seed);
        for (Map.Entry<String, Shape> e : VisionTransformer.expectedShapes(c).entrySet()) {
            float[] v = new float[Math.toIntExact(e.getValue().size())];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (r.nextGaussian() * 0.1 + (e.getKey().endsWith("norm1.weight")
                        || e.getKey().endsWith("norm2.weight") || e.getKey().endsWith("layrnorm.weight")
                        || e.getKey().endsWith("layernorm.weight") ? 1 : 0));
            }
            w.add(SafeTensorsWriter.Tensor.f32(e.getKey(), e.getValue().getShape(), v));
        }
        w.add(SafeTensorsWriter.Tensor.i64(VisionTransformer.PREFIX + "embeddings.position_ids", new long[] {1, 17},
                java.util.stream.LongStream.range(0, 17).toArray())); // HF's buffer, ignored on load
        w.write(dir.resolve("model.safetensors"));
        return dir;
    }

    @Test
    void llmTokenizerGetsMm1jRolesAppendedAndThePackerWritesThemByRole() throws Exception {
        Path stories = TestSupport.sharedData("stories260k");
        Path out = tmp.resolve("tokenizer.json");
        int vocab = PretrainedParts.writeTokenizer(stories, out);
        assertEquals(512 + 6, vocab, "<pad>, <image> and four chat markers appended after the 512 ids");
        try (Tokenizer tok = Tokenizer.load(out); Tokenizer orig = Tokenizer.load(stories.resolve("tokenizer.json"))) {
            SpecialTokens.Ids ids = SpecialTokens.Ids.of(tok, 1, 2);
            assertEquals(new SpecialTokens.Ids(512, 1, 2, 513, 514, 515, 516, 517), ids);
            assertEquals(1, tok.specialId("<s>"));
            assertEquals(2, tok.specialId("</s>"));
            String text = "Once upon a time there was a cat.";
            assertArrayEquals(orig.encode(text), tok.encode(text), "the LLM's own ids are unchanged");

            SampleEncoder enc = new SampleEncoder(tok::encode, SampleEncoder.resizeToUnit(8), ids);
            java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
            javax.imageio.ImageIO.write(new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), "png", png);
            Sample.Caption cap = new Sample.Caption("c1", ImageRef.of("mem.png", png.toByteArray()), List.of(text));
            SequencePacker packer = new SequencePacker(new SequencePacker.Config(1, 32, 2, 3), ids);
            Batch b = packer.next(List.of(enc.prepare(cap, null, null))
                    .iterator());
            long[] caption = tok.encode(text);
            List<Long> want = new ArrayList<>(List.of(1L, 513L, 513L, 513L));
            for (long id : caption) {
                want.add(id);
            }
            want.add(2L);
            while (want.size() < 33) {
                want.add(512L);
            }
            List<Long> got = new ArrayList<>();
            for (long t : b.tokens()) {
                got.add(t);
            }
            got.add(b.targets()[31]);
            assertEquals(want, got, "BOS <image>×3 caption EOS, then <pad>: the tokenizer's ids by role");
        }
    }

    @Test
    void aRunFromStories260kAndAClipFolderStartsFromTheirWeights() throws Exception {
        Path stories = TestSupport.sharedData("stories260k");
        Path clip = tinyClip(tmp.resolve("clip"), 7);
        Path run = tmp.resolve("run");
        // a vanishing LR: the checkpoint after step 1 holds the weights the run started from
        PretrainRuns.Cli c = PretrainRuns.pretrain(run, "--steps", "1", "--set", "optim.lr=1e-30",
                "--set", "model.llm.init=" + stories.toAbsolutePath(),
                "--set", "model.vision.init=" + clip.toAbsolutePath());
        assertEquals(0, c.code(), c.err());
        JsonNode cfg = JsonFiles.read(run.resolve("model/config.json"));
        assertEquals(64, cfg.at("/llm/hiddenSize").asInt(), "the LLM's shapes come from stories260k");
        assertEquals(5, cfg.at("/llm/numLayers").asInt());
        assertEquals(518, cfg.at("/llm/vocabSize").asInt());
        assertEquals(2, cfg.at("/vision/layers").asInt(), "the encoder's shapes come from the CLIP folder");
        assertEquals("quick_gelu", cfg.at("/vision/activation").asText());
        try (Tokenizer tok = Tokenizer.load(run.resolve("model/tokenizer.json"))) {
            assertEquals(513, tok.specialId(SpecialTokens.IMAGE));
        }
        try (NDManager m = TestSupport.root().newSubManager();
             WeightFiles got = WeightFiles.open(run.resolve("model"));
             WeightFiles llm = WeightFiles.open(stories);
             WeightFiles vit = WeightFiles.open(clip)) {
            for (String name : llm.names()) {
                NDArray want = llm.load(m, name, null);
                NDArray have = got.load(m, name, null);
                if (name.equals(Decoder.EMBED)) {
                    assertEquals(new Shape(518, 64), have.getShape());
                    assertArrayEquals(want.toFloatArray(), have.get(":512").toFloatArray(), 0f, name);
                    float[] mean = want.mean(new int[] {0}).toFloatArray();
                    for (int row = 512; row < 518; row++) {
                        assertArrayEquals(mean, have.get(row).toFloatArray(), 1e-7f, "appended row " + row);
                    }
                } else if (!name.equals(Decoder.LM_HEAD)) { // tied: the embedding is the head
                    assertArrayEquals(want.toFloatArray(), have.toFloatArray(), 0f, name);
                }
            }
            for (String name : vit.names()) {
                if (!name.endsWith("position_ids")) {
                    assertArrayEquals(vit.load(m, name, null).toFloatArray(), got.load(m, name, null).toFloatArray(),
                            0f, name);
                }
            }
        }
    }

    @Test
    void thePretrainedLlmStartsFarBelowARandomOneOnText() throws Exception {
        Path stories = TestSupport.sharedData("stories260k");
        Path text = TestSupport.sharedData("text").resolve("tinystories_sample.txt");
        Path tok = tmp.resolve("stories-tokenizer.json");
        PretrainedParts.writeTokenizer(stories, tok);
        String source = "data.sources=[{\"name\":\"text\",\"format\":\"text\",\"path\":\"" + text.toAbsolutePath()
                + "\",\"weight\":1}]";
        List<String> common = List.of("--steps", "1", "--set", source, "--set", "optim.lr=1e-30", "--set",
                "model.vision=false", "--set", "model.connector=false", "--set", "data.seq_len=128", "--set",
                "train.eval_interval=1", "--set", "train.eval_batches=2");
        List<String> pre = new ArrayList<>(common);
        pre.addAll(List.of("--set", "model.llm.init=" + stories.toAbsolutePath()));
        List<String> random = new ArrayList<>(common); // the same shapes and tokenizer, random weights
        random.addAll(List.of("--set", "tokenizer=" + tok.toAbsolutePath(), "--set", "model.llm.hidden_size=64",
                "--set", "model.llm.num_hidden_layers=5", "--set", "model.llm.num_attention_heads=8", "--set",
                "model.llm.num_key_value_heads=4", "--set", "model.llm.intermediate_size=172", "--set",
                "model.llm.tie_word_embeddings=true"));
        PretrainRuns.Cli a = PretrainRuns.pretrain(tmp.resolve("pre"), pre.toArray(String[]::new));
        PretrainRuns.Cli b = PretrainRuns.pretrain(tmp.resolve("random"), random.toArray(String[]::new));
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        double pretrained = line(tmp.resolve("pre"), 1, "valLoss").get("valLoss").asDouble();
        double fresh = line(tmp.resolve("random"), 1, "valLoss").get("valLoss").asDouble();
        assertTrue(fresh > Math.log(518) - 0.1, "random init is near uniform over 518 ids: " + fresh);
        assertTrue(pretrained < fresh / 3, "stories260k on TinyStories: " + pretrained + " vs random " + fresh);
    }

    @Test
    void encoderShapesAreReadFromClipModelOpenClipAndMm1jFolders() throws Exception {
        Path clipModel = Files.createDirectories(tmp.resolve("clip-model"));
        Files.writeString(clipModel.resolve("config.json"), "{\"model_type\": \"clip\", \"vision_config\": "
                + "{\"hidden_size\": 1024, \"intermediate_size\": 4096, \"num_hidden_layers\": 24, "
                + "\"num_attention_heads\": 16, \"image_size\": 336, \"patch_size\": 14}}");
        assertEquals(VisionConfig.builder().imageSize(336).patchSize(14).width(1024).layers(24).heads(16)
                .mlpDim(4096).activation("quick_gelu").build(), PretrainedParts.visionConfig(clipModel),
                "CLIP ViT-L/14-336 (quick_gelu: CLIPVisionConfig's default)");
        Path openClip = Files.createDirectories(tmp.resolve("open-clip"));
        Files.writeString(openClip.resolve("open_clip_config.json"), "{\"model_cfg\": {\"embed_dim\": 1024, "
                + "\"vision_cfg\": {\"image_size\": 378, \"layers\": 32, \"width\": 1280, \"head_width\": 80,"
                + " \"patch_size\": 14}}}");
        assertEquals(VisionConfig.builder().imageSize(378).patchSize(14).width(1280).layers(32).heads(16)
                .mlpDim(5120).activation("gelu").build(), PretrainedParts.visionConfig(openClip),
                "DFN5B-CLIP-ViT-H-14-378, MM1's encoder");
        Path mm1j = tmp.resolve("mm1j");
        assertEquals(0, PretrainRuns.cli("init", "--preset", "tiny-test", "--out", mm1j.toString()).code());
        assertEquals(io.mm1j.config.Presets.load("tiny-test").vision(), PretrainedParts.visionConfig(mm1j));
        Path notClip = Files.createDirectories(tmp.resolve("llama"));
        Files.writeString(notClip.resolve("config.json"), "{\"model_type\": \"llama\"}");
        io.mm1j.Mm1Exception e = org.junit.jupiter.api.Assertions.assertThrows(io.mm1j.Mm1Exception.class,
                () -> PretrainedParts.visionConfig(notClip));
        assertEquals("model.vision.init: " + notClip.resolve("config.json") + ": model_type 'llama' is not a CLIP "
                + "vision model (expected clip_vision_model or clip)", e.getMessage());
    }

    @Test
    void shapeOverridesBesideAnInitAreRefused() throws Exception {
        Path stories = TestSupport.sharedData("stories260k");
        PretrainRuns.Cli c = PretrainRuns.pretrain(tmp.resolve("x"), "--steps", "1", "--set",
                "model.llm.init=" + stories.toAbsolutePath(), "--set", "model.llm.hidden_size=128");
        assertEquals(1, c.code());
        assertEquals("mm1: error: model.llm.hidden_size: the LLM's shapes come from model.llm.init ("
                + stories.toAbsolutePath() + "); remove the override", c.err().strip());
        Path clip = tinyClip(tmp.resolve("clip"), 1);
        PretrainRuns.Cli v = PretrainRuns.pretrain(tmp.resolve("y"), "--steps", "1", "--set",
                "model.vision.init=" + clip.toAbsolutePath(), "--set", "model.vision.width=64");
        assertEquals(1, v.code());
        assertEquals("mm1: error: model.vision.width: the encoder's shapes come from model.vision.init ("
                + clip.toAbsolutePath() + "); only [featureLayer] may be set beside it", v.err().strip());
    }
}
