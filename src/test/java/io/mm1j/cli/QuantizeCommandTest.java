package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.Mm1Exception;
import io.mm1j.TestSupport;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.Int8Matrix;
import io.mm1j.llm.Int8Weights;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.SafeTensorsWriter;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 quantize} and {@code --quantize int8}: the int8 folder format, its reload, and its errors. */
class QuantizeCommandTest {
    @TempDir
    static Path tmp;
    static Path tiny;
    static Path q8;

    /** A tiny multimodal mm1j model (vision tower + connector + decoder) and its int8 copy. */
    @BeforeAll
    static void init() {
        tiny = tmp.resolve("tiny");
        assertEquals(0, CliTest.run("init", "--preset", "tiny-test", "--out", tiny.toString(), "--seed", "3").code());
        q8 = tmp.resolve("q8");
        CliTest.Result r = CliTest.run("quantize", "--model", tiny.toString(), "--out", q8.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("quantised 16 weight matrices to int8 (group size 32)"), r.out());
    }

    @Test
    void decoderMatricesBecomeInt8AndEverythingElseIsCopiedUnchanged() throws Exception {
        try (SafeTensors in = SafeTensors.open(tiny.resolve("model.safetensors"));
             SafeTensors out = SafeTensors.open(q8.resolve("model.safetensors"))) {
            assertEquals("32", out.metadata().get(Int8Weights.GROUP_SIZE_KEY));
            int int8 = 0;
            for (String name : in.names()) {
                SafeTensors.Entry a = in.entry(name);
                SafeTensors.Entry b = out.entry(name);
                assertArrayEquals(a.shape(), b.shape(), name);
                boolean matrix = Decoder.isDecoderTensor(name) && a.shape().length == 2;
                if (matrix) {
                    int8++;
                    assertEquals("I8", b.dtype(), name);
                    SafeTensors.Entry s = out.entry(name + "_scale");
                    assertEquals("F32", s.dtype());
                    assertArrayEquals(new long[] {a.shape()[0], (a.shape()[1] + 31) / 32}, s.shape(), name);
                } else {
                    assertEquals(a.dtype(), b.dtype(), name);
                    assertEquals(in.raw(name), out.raw(name), "bytes of " + name); // vision, connector, norms
                }
            }
            assertEquals(16, int8, "embedding, head and 7 matrices in each of 2 layers");
            assertTrue(in.names().stream().anyMatch(n -> n.startsWith("vision_model.encoder.")), "the model has a vision tower");
            assertEquals(in.names().size() + int8, out.names().size(), "one scale tensor per int8 matrix");
        }
        for (String f : new String[] {"config.json", "tokenizer.json"}) {
            assertArrayEquals(Files.readAllBytes(tiny.resolve(f)), Files.readAllBytes(q8.resolve(f)), f);
        }
    }

    @Test
    void theSavedFolderReloadsToTheSameInt8WeightsAsQuantisingOnLoad() {
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model onLoad = Mm1Model.load(tiny, m, DataType.FLOAT32);
             Mm1Model saved = Mm1Model.load(q8, m, DataType.FLOAT32)) {
            onLoad.decoder().quantizeInt8(Int8Matrix.DEFAULT_GROUP);
            Map<String, Int8Matrix> a = onLoad.decoder().int8Weights().all();
            Map<String, Int8Matrix> b = saved.decoder().int8Weights().all();
            assertEquals(a.keySet(), b.keySet());
            for (String name : a.keySet()) {
                assertArrayEquals(a.get(name).values(), b.get(name).values(), name);
                assertArrayEquals(a.get(name).scales(), b.get(name).scales(), name);
            }
            for (String name : onLoad.params().all().keySet()) { // dequantised matrices, untouched vision tensors
                assertArrayEquals(onLoad.params().get(name).toFloatArray(), saved.params().get(name).toFloatArray(),
                        name);
            }
            assertTrue(saved.decoder().cpuDecoder().int8());
        }
    }

    @Test
    void llavaFoldersShardedOrNotQuantiseUnderTheirOwnKeys() throws Exception {
        for (String fixture : new String[] {"llava-next-legacy", "llava15-new"}) {
            Path src = Path.of("src/test/resources/llava", fixture);
            Path out = tmp.resolve("q8-" + fixture);
            CliTest.Result r = CliTest.run("quantize", "--model", src.toString(), "--out", out.toString());
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("preprocessor_config.json"), "the image preprocessing travels along");
            try (NDManager m = TestSupport.root().newSubManager();
                 Mm1Model onLoad = Mm1Model.load(src, m, DataType.FLOAT32);
                 Mm1Model saved = Mm1Model.load(out, m, DataType.FLOAT32);
                 SafeTensors st = SafeTensors.open(out.resolve("model.safetensors"));
                 io.mm1j.tensor.WeightFiles in = io.mm1j.tensor.WeightFiles.open(src)) {
                onLoad.decoder().quantizeInt8(Int8Matrix.DEFAULT_GROUP);
                Map<String, Int8Matrix> a = onLoad.decoder().int8Weights().all();
                Map<String, Int8Matrix> b = saved.decoder().int8Weights().all();
                assertEquals(a.keySet(), b.keySet(), fixture);
                for (String name : a.keySet()) {
                    assertArrayEquals(a.get(name).values(), b.get(name).values(), fixture + " " + name);
                    assertArrayEquals(a.get(name).scales(), b.get(name).scales(), fixture + " " + name);
                }
                for (String name : onLoad.params().all().keySet()) {
                    assertArrayEquals(onLoad.params().get(name).toFloatArray(),
                            saved.params().get(name).toFloatArray(), fixture + " " + name);
                }
                String prefix = fixture.endsWith("legacy") ? "language_model.model." : "model.language_model.";
                assertEquals("I8", st.entry(prefix + "layers.0.mlp.down_proj.weight").dtype(), "LLaVA's own keys");
                for (String n : in.names()) {
                    if (n.contains("vision_tower") || n.contains("multi_modal_projector")) { // BF16 in llava15-new
                        assertEquals(in.fileOf(n).entry(n).dtype(), st.entry(n).dtype(), n);
                        assertEquals(in.fileOf(n).raw(n), st.raw(n), "bytes of " + n);
                    }
                }
            }
        }
    }

    @Test
    void generateGivesTheSameTextFromTheInt8FolderAndWithQuantiseOnLoad() throws Exception {
        BufferedImage img = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.RED);
        g.fillRect(5, 5, 20, 15);
        g.dispose();
        Path png = tmp.resolve("red.png");
        ImageIO.write(img, "png", png.toFile());
        String[] common = {"--image", png.toString(), "--prompt", "<image> the", "--max-tokens", "12"};
        CliTest.Result folder = CliTest.run(concat(new String[] {"generate", "--model", q8.toString()}, common));
        CliTest.Result onLoad = CliTest.run(concat(new String[] {"generate", "--model", tiny.toString(),
            "--quantize", "int8"}, common));
        assertEquals(0, folder.code(), folder.err());
        assertEquals(0, onLoad.code(), onLoad.err());
        assertFalse(folder.out().isBlank());
        assertEquals(onLoad.out(), folder.out());
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** q8's model.safetensors rewritten with {@code name} replaced by {@code replacement} (null = dropped). */
    private static Path tampered(String folder, String name, SafeTensorsWriter.Tensor replacement,
                                 Map<String, String> metadata) throws Exception {
        Path dir = tmp.resolve(folder);
        Files.createDirectories(dir);
        Files.copy(q8.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(q8.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        SafeTensorsWriter w = new SafeTensorsWriter();
        metadata.forEach(w::metadata);
        try (SafeTensors st = SafeTensors.open(q8.resolve("model.safetensors"))) {
            for (String n : st.names()) {
                SafeTensors.Entry e = st.entry(n);
                if (!n.equals(name)) {
                    w.add(new SafeTensorsWriter.Tensor(n, e.dtype(), e.shape(), st.raw(n)));
                } else if (replacement != null) {
                    w.add(replacement);
                }
            }
            w.write(dir.resolve("model.safetensors"));
        }
        return dir;
    }

    @Test
    void aScaleOfTheWrongShapeIsRefusedNamingTensorAndFile() throws Exception {
        String q = "model.layers.0.self_attn.q_proj.weight";
        Path bad = tampered("bad-scale", q + "_scale", SafeTensorsWriter.Tensor.f32(q + "_scale", new long[] {32, 2},
                new float[64]), Map.of(Int8Weights.GROUP_SIZE_KEY, "32"));
        String expected = bad.resolve("model.safetensors") + ": tensor '" + q + "_scale' has shape (32, 2) but int8 "
                + "tensor '" + q + "' (32, 32) with group size 32 needs (32, 1)";
        try (NDManager m = TestSupport.root().newSubManager()) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> Mm1Model.load(bad, m, DataType.FLOAT32));
            assertEquals(expected, e.getMessage());
        }
        CliTest.Result r = CliTest.run("generate", "--model", bad.toString(), "--max-tokens", "2");
        assertEquals(1, r.code());
        assertEquals("mm1: error: " + expected + "\n", r.err());
    }

    @Test
    void missingScalesOrGroupSizeAreRefusedNamingTensorAndFile() throws Exception {
        String k = "model.layers.1.self_attn.k_proj.weight";
        Path noScale = tampered("no-scale", k + "_scale", null, Map.of(Int8Weights.GROUP_SIZE_KEY, "32"));
        Path noGroup = tampered("no-group", "none", null, Map.of());
        Path negative = tampered("negative", k + "_scale", SafeTensorsWriter.Tensor.f32(k + "_scale",
                new long[] {16, 1}, negativeAt3()), Map.of(Int8Weights.GROUP_SIZE_KEY, "32"));
        try (NDManager m = TestSupport.root().newSubManager()) {
            Mm1Exception a = assertThrows(Mm1Exception.class, () -> Mm1Model.load(noScale, m, DataType.FLOAT32));
            assertEquals(noScale.resolve("model.safetensors") + ": tensor '" + k + "' is int8 but its scales '" + k
                    + "_scale' are missing", a.getMessage());
            Mm1Exception b = assertThrows(Mm1Exception.class, () -> Mm1Model.load(noGroup, m, DataType.FLOAT32));
            assertEquals(noGroup.resolve("model.safetensors") + ": tensor '" + Decoder.EMBED + "' is int8, but the "
                    + "file's metadata 'mm1j.int8.group_size' is missing (expected the columns per scale, e.g. 32)",
                    b.getMessage());
            Mm1Exception c = assertThrows(Mm1Exception.class, () -> Mm1Model.load(negative, m, DataType.FLOAT32));
            assertEquals(negative.resolve("model.safetensors") + ": tensor '" + k + "_scale': scale -1.0 at (3, 0) "
                    + "is not a finite number >= 0", c.getMessage());
        }
    }

    /** Only weight matrices can be int8: a vector stored as I8 is one line naming file and tensor. */
    @Test
    void anInt8VectorIsRefusedNamingTensorAndFile() throws Exception {
        String norm = "model.norm.weight";
        Path bad = tampered("int8-norm", norm, new SafeTensorsWriter.Tensor(norm, "I8", new long[] {32},
                java.nio.ByteBuffer.wrap(new byte[32])), Map.of(Int8Weights.GROUP_SIZE_KEY, "32"));
        CliTest.Result r = CliTest.run("generate", "--model", bad.toString(), "--max-tokens", "2");
        assertEquals(1, r.code());
        assertEquals("mm1: error: " + bad.resolve("model.safetensors") + ": tensor '" + norm + "' is stored as int8, "
                + "but only weight matrices can be (this tensor has shape (32); store it as a float)\n", r.err());
    }

    /** --out naming the --model folder (or a folder holding it) is refused even with --overwrite. */
    @Test
    void quantizingAFolderOntoItselfIsRefused() throws Exception {
        Path copy = tampered("self", "none", null, Map.of(Int8Weights.GROUP_SIZE_KEY, "32"));
        long before = Files.size(copy.resolve("model.safetensors"));
        for (Path out : List.of(copy, copy.getParent())) {
            CliTest.Result r = CliTest.run("quantize", "--model", copy.toString(), "--out", out.toString(),
                    "--overwrite");
            assertEquals(1, r.code());
            assertEquals("mm1: error: --out " + out + ": " + (out.equals(copy) ? "is" : "contains")
                    + " the --model folder it reads (" + copy + "); write the output elsewhere\n", r.err());
        }
        assertEquals(before, Files.size(copy.resolve("model.safetensors")), "the model is untouched");
        // a run folder as --model reads its model/: writing onto that folder is refused as well
        Path run = tmp.resolve("run-folder");
        Files.createDirectories(run);
        Files.move(copy, run.resolve("model"));
        CliTest.Result r = CliTest.run("quantize", "--model", run.toString(), "--out", run.resolve("model").toString(),
                "--overwrite");
        assertEquals("mm1: error: --out " + run.resolve("model") + ": is the --model folder it reads ("
                + run.resolve("model") + "); write the output elsewhere\n", r.err());
    }

    /**
     * stories260k's reference_logits.json holds an independent float64 pass's logits of the float weights: the int8
     * folder does not reproduce them, so it is left out (and said so); the tokenizer's cases still hold and travel.
     */
    @Test
    void theFloatModelsReferenceLogitsAreNotCopiedIntoTheInt8Folder() throws Exception {
        Path stories = TestSupport.sharedData("stories260k");
        Path out = tmp.resolve("q8-stories");
        CliTest.Result r = CliTest.run("quantize", "--model", stories.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\nleft out: reference_logits.json (references of the float model; the int8 "
                + "weights do not reproduce them)\n"), r.out());
        assertFalse(Files.exists(out.resolve("reference_logits.json")));
        assertArrayEquals(Files.readAllBytes(stories.resolve("tokenizer_cases.json")),
                Files.readAllBytes(out.resolve("tokenizer_cases.json")));
    }

    private static float[] negativeAt3() {
        float[] s = new float[16];
        java.util.Arrays.fill(s, 0.01f);
        s[3] = -1f;
        return s;
    }

    @Test
    void refusals() {
        CliTest.Result again = CliTest.run("quantize", "--model", q8.toString(), "--out", tmp.resolve("qq").toString());
        assertEquals(1, again.code());
        assertEquals("mm1: error: " + q8 + ": the model already holds int8 weights\n", again.err());
        assertFalse(Files.exists(tmp.resolve("qq")), "nothing left behind");
        CliTest.Result group = CliTest.run("quantize", "--model", tiny.toString(), "--out",
                tmp.resolve("g0").toString(), "--group-size", "0");
        assertEquals("mm1: error: --group-size must be >= 1, got 0\n", group.err());
        CliTest.Result bad = CliTest.run("generate", "--model", tiny.toString(), "--quantize", "int4");
        assertEquals("mm1: error: --quantize must be one of [none, int8], got int4\n", bad.err());
        CliTest.Result adapter = CliTest.run("generate", "--model", tiny.toString(), "--quantize", "int8",
                "--adapter", tmp.toString());
        assertEquals("mm1: error: --quantize with --adapter: the CPU decode path does not apply adapters; merge it "
                + "first (mm1 merge-lora), then quantise\n", adapter.err());
    }
}
