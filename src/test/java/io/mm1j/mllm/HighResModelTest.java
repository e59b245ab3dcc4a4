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
}
