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
import java.util.Set;
import org.junit.jupiter.api.Test;

class Mm1ModelResourceTest {
    static int live(NDManager m) {
        return ((BaseNDManager) m).getManagedArrays().size();
    }

    @Test
    void generateWithImagesDoesNotGrowTheParameterManager() {
        for (DecodePath path : DecodePath.values()) {
            try (NDManager m = TestSupport.root().newSubManager()) {
                Mm1Config cfg = Presets.load("tiny-test");
                try (Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
                    int k = model.imageTokens();
                    long[] ids = new long[1 + k + 2];
                    ids[0] = 1;
                    for (int i = 1; i <= k; i++) {
                        ids[i] = 3;
                    }
                    ids[k + 1] = 10;
                    ids[k + 2] = 11;
                    int s = cfg.vision().imageSize();
                    NDArray px = m.randomNormal(0, 1, new Shape(1, 3, s, s), DataType.FLOAT32);
                    model.generate(ids, px, 3, 4, Sampler.ARGMAX, Set.of(), t -> { }, path);
                    int before = live(model.params().manager());
                    for (int i = 0; i < 5; i++) {
                        model.generate(ids, px, 3, 4, Sampler.ARGMAX, Set.of(), t -> { }, path);
                    }
                    int after = live(model.params().manager());
                    assertEquals(before, after, path + ": arrays leaked into the long-lived parameter manager");
                }
            }
        }
    }

    @Test
    void decodeThreadsDieWithTheirModel() throws Exception {
        int before = threads();
        for (int r = 0; r < 3; r++) {
            try (NDManager m = TestSupport.root().newSubManager();
                 Mm1Model model = Mm1Model.init(Presets.load("tiny-test"), m, DataType.FLOAT32)) {
                new Generator(model.decoder()).generate(new long[] {1}, 3, Sampler.ARGMAX, Set.of(), t -> { });
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
