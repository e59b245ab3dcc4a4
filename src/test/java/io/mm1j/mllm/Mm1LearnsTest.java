package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.TestSupport;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.train.AdamW;
import io.mm1j.train.LmStep;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The tiny MM1 (ViT → avg-pool connector → Llama) learns to caption synthetic images: "COLOUR SIDE" for a coloured
 * square on the left or right. Without the image the best possible loss is the caption entropy,
 * (ln 4 + ln 2) / 3 ≈ 0.69 nats per caption token (colour, side, EOS); a model that sees the image must go far
 * below the same architecture trained blind (images zeroed).
 */
class Mm1LearnsTest {
    private static final int IMG = 3;
    private static final int EOS = 2;
    private static final float[][] COLOURS = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}};

    @Test
    void captionLossFallsFarBelowTheBlindBaseline() {
        double seeing = train(false);
        double blind = train(true);
        assertTrue(blind > 0.5, "blind model cannot beat the caption entropy (~0.69), got " + blind);
        assertTrue(seeing < blind / 4, "with images " + seeing + " vs blind " + blind);
    }

    /** Trains a fresh tiny-test MM1 and returns the mean caption loss of the last 10 steps. */
    private static double train(boolean blind) {
        Mm1Config cfg = Presets.load("tiny-test");
        int k = cfg.connector().imageTokens();
        int size = cfg.vision().imageSize();
        int batch = 16;
        int t = 1 + k + 3; // BOS, k image slots, colour, side, EOS
        NDManager root = TestSupport.root();
        root.getEngine().setRandomSeed(11);
        SplittableRandom rnd = new SplittableRandom(3);
        double tail = 0;
        try (NDManager m = root.newSubManager(); Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
            model.params().enableGradients();
            try (AdamW opt = AdamW.standard(model.params())) {
                int steps = 160;
                for (int s = 0; s < steps; s++) {
                    long[] ids = new long[batch * (t + 1)];
                    float[] px = new float[batch * 3 * size * size];
                    for (int b = 0; b < batch; b++) {
                        int colour = rnd.nextInt(4);
                        int side = rnd.nextInt(2);
                        if (!blind) {
                            drawSquare(px, b, size, COLOURS[colour], side);
                        }
                        int o = b * (t + 1);
                        ids[o] = 1;
                        for (int i = 1; i <= k; i++) {
                            ids[o + i] = IMG;
                        }
                        ids[o + k + 1] = 10 + colour; // colour words 10..13
                        ids[o + k + 2] = 20 + side; // side words 20..21
                        ids[o + k + 3] = EOS;
                        ids[o + k + 4] = 0;
                    }
                    try (NDScope scope = new NDScope()) {
                        NDArray all = m.create(ids, new Shape(batch, t + 1));
                        NDArray in = all.get(":, :-1");
                        NDArray target = all.get(":, 1:");
                        float[] mask = new float[batch * t];
                        for (int b = 0; b < batch; b++) {
                            for (int i = k; i < t - 1; i++) { // predict colour, side, EOS only
                                mask[b * t + i] = 1;
                            }
                        }
                        NDArray pixels = m.create(px, new Shape(batch, 3, size, size));
                        double loss = LmStep.run(() -> model.forward(in, pixels, IMG), opt, target,
                                m.create(mask, new Shape(batch, t)), 3e-3, 0.0, 1.0).loss();
                        if (s >= steps - 10) {
                            tail += loss / 10;
                        }
                        scope.suppressNotUsedWarning();
                    }
                }
            }
        }
        return tail;
    }

    private static void drawSquare(float[] px, int b, int size, float[] rgb, int side) {
        int x0 = side == 0 ? 2 : size / 2 + 2;
        int y0 = size / 4;
        for (int c = 0; c < 3; c++) {
            for (int y = y0; y < y0 + size / 2; y++) {
                for (int x = x0; x < x0 + size / 2 - 4; x++) {
                    px[((b * 3 + c) * size + y) * size + x] = rgb[c] * 2 - 1;
                }
            }
        }
    }
}
