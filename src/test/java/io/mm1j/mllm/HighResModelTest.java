package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.TestSupport;
import io.mm1j.config.HighResConfig;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.HighResSplitter;
import io.mm1j.vision.ImagePreprocessor;
import io.mm1j.vision.RgbImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MM1's high-resolution mode in the model: 2×2 sub-images + overview, 5·k tokens, positions interpolated once. */
class HighResModelTest {
    @TempDir
    static Path tmp;
    static Path dir;
    static RgbImage image;

    @BeforeAll
    static void init() {
        dir = tmp.resolve("tiny");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString(), "--seed", "4")
                .code());
        byte[] rgb = new byte[90 * 70 * 3];
        new Random(5).nextBytes(rgb);
        image = new RgbImage(90, 70, rgb);
    }

    @AfterAll
    static void done() {
        System.gc();
    }

    /**
     * Switching on tiling at a 64 px crop (the encoder was trained at 32 px) gives 5 × 4 tokens per picture, and
     * each sub-image's tokens equal what the original encoder gives for that crop with its positions interpolated
     * on the fly: the one-time interpolation of the position table is the same bicubic resize.
     */
    @Test
    void tilesAtTheCropSizeWithInterpolatedPositions() {
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model base = Mm1Model.load(dir, m, DataType.FLOAT32)) {
            HighResSplitter split = new HighResSplitter(2, 2, 64, true);
            NDArray crops = split.split(new ImagePreprocessor(m, 64), image); // (5, 3, 64, 64)
            float[] expected = base.encodeImages(crops).toFloatArray(); // (5, 4, D): on-the-fly interpolation
            Mm1Model hr = base.withHighRes(HighResConfig.mm1(), 64);
            assertEquals(20, hr.imageTokens());
            assertEquals(64, hr.config().vision().imageSize());
            assertEquals(1 + 8 * 8, hr.params().get("vision_model.embeddings.position_embedding.weight")
                    .getShape().get(0));
            NDArray pixels = hr.preprocess(m, List.of(image));
            assertArrayEquals(new long[] {5, 3, 64, 64}, pixels.getShape().getShape());
            NDArray tokens = hr.encodeImages(pixels);
            assertArrayEquals(new long[] {1, 20, 32}, tokens.getShape().getShape());
            assertArrayEquals(expected, tokens.toFloatArray(), 1e-5f);
        }
    }

    /** The mode is saved in config.json and generation takes the same path (5·k slots per image). */
    @Test
    void savedModelGeneratesThroughTheSameTiling() {
        Path out = tmp.resolve("hr");
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model base = Mm1Model.load(dir, m, DataType.FLOAT32)) {
            base.withHighRes(HighResConfig.mm1(), 64).save(out);
        }
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model hr = Mm1Model.load(out, m, DataType.FLOAT32);
             Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"))) {
            assertEquals(HighResConfig.mm1(), hr.config().highRes());
            Prompt p = new PromptBuilder(hr, tok).fromText("<image> what is it?", List.of(image));
            assertEquals(20, p.imageTokens()[0]);
            Generator.Result r = new Generator(hr, tok, io.mm1j.llm.DecodePath.CPU).generate(p,
                    GenerationConfig.greedy(4), TokenListener.NONE);
            assertEquals(20, r.imageTokens());
        }
    }

    /**
     * A C-Abstractor model (Honeybee's learned position embedding of the 4×4 patch grid) switched on at a 48 px crop:
     * the connector's position embedding is resized to the 6×6 grid with torch's bicubic, each channel
     * {@code P'[i][j] = Σ_a Σ_b w[i][a]·w[j][b]·P[a][b]} (computed here in plain Java), the crop encodes to k tokens
     * per sub-image, and the saved model loads back at 48 px.
     */
    @Test
    void cAbstractorPositionEmbeddingFollowsTheCrop() {
        Path out = tmp.resolve("cabs-hr");
        io.mm1j.config.Mm1Config tiny = io.mm1j.config.Presets.load("tiny-test");
        io.mm1j.config.Mm1Config c = tiny.withConnector(new io.mm1j.config.ConnectorConfig("c-abstractor", 4, 1));
        String posEmb = io.mm1j.connector.CAbstractor.POS_EMB;
        try (NDManager m = TestSupport.root().newSubManager()) {
            TestSupport.root().getEngine().setRandomSeed(7);
            Mm1Model base = Mm1Model.init(c, m, DataType.FLOAT32);
            float[] before = base.params().get(posEmb).toFloatArray(); // (1, 16, 32)
            try (Mm1Model hr = base.withHighRes(new HighResConfig(1, 1, false), 48)) { // shares base's parameters
                NDArray resized = hr.params().get(posEmb);
                assertArrayEquals(new long[] {1, 36, 32}, resized.getShape().getShape());
                assertArrayEquals(bicubic(before, 4, 6, 32), resized.toFloatArray(), 1e-6f);
                NDArray tokens = hr.encodeImages(hr.preprocess(m, List.of(image)));
                assertArrayEquals(new long[] {1, 4, 32}, tokens.getShape().getShape());
                hr.save(out);
            }
        }
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model back = Mm1Model.load(out, m, DataType.FLOAT32)) {
            assertEquals(48, back.config().vision().imageSize());
            assertEquals(36, back.params().get(posEmb).getShape().get(1));
            assertEquals(4, back.imageTokens());
        }
    }

    /** The mlp connector gives one token per patch: at a 48 px crop (6×6 patches) k follows, 16 → 36. */
    @Test
    void mlpConnectorTokensFollowTheCrop() {
        io.mm1j.config.Mm1Config tiny = io.mm1j.config.Presets.load("tiny-test");
        io.mm1j.config.Mm1Config c = tiny.withConnector(new io.mm1j.config.ConnectorConfig("mlp", 16, 1));
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model hr = Mm1Model.init(c, m, DataType.FLOAT32).withHighRes(HighResConfig.mm1(), 48)) {
            assertEquals(36, hr.config().connector().imageTokens());
            assertEquals(5 * 36, hr.imageTokens());
            NDArray tokens = hr.encodeImages(hr.preprocess(m, List.of(image)));
            assertArrayEquals(new long[] {1, 5 * 36, 32}, tokens.getShape().getShape());
        }
    }

    /** torch bicubic (align_corners=False) of a (1, g·g, C) row-major grid to (1, h·h, C), in plain Java. */
    private static float[] bicubic(float[] pos, int g, int h, int ch) {
        double[] w = io.mm1j.nn.Resample.torchBicubic(g, h); // (h, g)
        float[] out = new float[h * h * ch];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < h; j++) {
                for (int k = 0; k < ch; k++) {
                    double sum = 0;
                    for (int a = 0; a < g; a++) {
                        for (int b = 0; b < g; b++) {
                            sum += w[i * g + a] * w[j * g + b] * pos[(a * g + b) * ch + k];
                        }
                    }
                    out[(i * h + j) * ch + k] = (float) sum;
                }
            }
        }
        return out;
    }
}
