package io.mm1j.mllm;

import io.mm1j.TinyModel;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.RgbImage;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** Tests on one tiny random MM1 model (tiny-test, seed 3) and a 32×32 noise image, made once per test class. */
abstract class TinyModelTest {
    @TempDir
    static Path tmp;
    static TinyModel tiny;
    static Tokenizer tok;
    static Mm1Model model;
    static RgbImage image;

    @BeforeAll
    static void init() {
        tiny = TinyModel.init(tmp.resolve("tiny"), "--seed", "3");
        tok = tiny.tokenizer();
        model = tiny.model();
        image = TinyModel.noise(32, 32, 1);
    }

    @AfterAll
    static void close() {
        tiny.close();
    }
}
