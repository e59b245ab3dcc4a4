package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.TestSupport;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.llm.DecodePath;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.RgbImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.Test;

class Mm1ModelResourceTest {
    static int live(NDManager m) {
        return ((BaseNDManager) m).getManagedArrays().size();
    }

    @Test
    void generateWithImagesDoesNotGrowTheParameterManager(@TempDir Path tmp) {
        Path dir = tmp.resolve("tiny");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString()).code());
        for (DecodePath path : DecodePath.values()) {
            try (NDManager m = TestSupport.root().newSubManager();
                 Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"));
                 Mm1Model model = Mm1Model.load(dir, m, DataType.FLOAT32)) {
                Random r = new Random(5);
                byte[] rgb = new byte[40 * 30 * 3];
                r.nextBytes(rgb);
                Prompt p = new PromptBuilder(model, tok).fromText("<image> a b", List.of(new RgbImage(40, 30, rgb)));
                Generator g = new Generator(model, tok, path);
                GenerationConfig cfg = GenerationConfig.builder().maxTokens(4).stopIds(Set.of()).build();
                g.generate(p, cfg, TokenListener.NONE);
                int before = live(model.params().manager());
                for (int i = 0; i < 5; i++) {
                    g.generate(p, cfg, TokenListener.NONE);
                }
                int after = live(model.params().manager());
                assertEquals(before, after, path + ": arrays leaked into the long-lived parameter manager");
            }
        }
    }

    @Test
    void decodeThreadsDieWithTheirModel() throws Exception {
        int before = threads();
        for (int r = 0; r < 3; r++) {
            try (NDManager m = TestSupport.root().newSubManager();
                 Mm1Model model = Mm1Model.init(Presets.load("tiny-test"), m, DataType.FLOAT32)) {
                new Generator(model.decoder(), DecodePath.CPU).generate(new long[] {1}, 3, Sampler.ARGMAX, Set.of(), t -> { });
            }
        }
        System.gc();
        Thread.sleep(500);
        // other tests' decoders may still be collected meanwhile, so the count can only stay or fall
        assertTrue(threads() <= before, "worker threads (and the float[] weight copies their task retains) outlive "
                + "the closed model: " + before + " -> " + threads());
    }

    static int threads() {
        return (int) Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("mm1-decode") && t.isAlive()).count();
    }
}
