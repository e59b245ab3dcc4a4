package io.mm1j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.RgbImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A tiny random MM1 model for tests: written by {@code mm1 init --preset tiny-test} into {@code dir}, loaded in
 * float32 with its tokenizer under a sub-manager of {@link TestSupport#root}; closing frees all three.
 */
public record TinyModel(Path dir, Tokenizer tokenizer, NDManager manager, Mm1Model model) implements AutoCloseable {
    /** {@code mm1 init --preset tiny-test --out dir} plus {@code extraArgs} (e.g. a seed), then loads it. */
    public static TinyModel init(Path dir, String... extraArgs) {
        List<String> args = new ArrayList<>(List.of("init", "--preset", "tiny-test", "--out", dir.toString()));
        args.addAll(List.of(extraArgs));
        assertEquals(0, TestSupport.cli(args.toArray(new String[0])).code());
        Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"));
        NDManager m = TestSupport.root().newSubManager();
        return new TinyModel(dir, tok, m, Mm1Model.load(dir, m, DataType.FLOAT32));
    }

    /** A width × height image of seeded random bytes. */
    public static RgbImage noise(int width, int height, long seed) {
        byte[] rgb = new byte[width * height * 3];
        new Random(seed).nextBytes(rgb);
        return new RgbImage(width, height, rgb);
    }

    @Override
    public void close() {
        model.close();
        manager.close();
        tokenizer.close();
    }
}
