package io.mm1j.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.TestSupport;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * CLIP preprocessing against numbers computed independently by {@code src/test/resources/vision/
 * preprocess_reference.py} (numpy, PIL's resampling written from its C source's description, libjpeg-turbo's
 * djpeg for the JPEG). Tolerances:
 * <ul>
 *   <li>PNG: {@link #LEVEL} (one 8-bit level after normalisation, 1/255/0.2613 ≈ 0.0150) per value, where float32
 *       against numpy's float64 flips a round-half-up tie; per-channel means to 1e-4.
 *   <li>JPEG: Java's decoder (the JDK's libjpeg 6b behind TwelveMonkeys) and libjpeg-turbo may differ in IDCT and
 *       chroma-upsampling rounding; the test measures that gap on 60 raw pixels (≤ 8 levels allowed) and allows
 *       it plus one level of resize rounding after preprocessing. Measured on 000000000139.jpg: gap 0 levels,
 *       worst preprocessed difference 1.6e-7 (the decoders agree on these pixels).
 * </ul>
 */
class ImagePreprocessorTest {
    private static final double LEVEL = 1.0 / 255 / 0.26130258 + 1e-6;

    private NDManager m;
    private JsonNode ref;

    @BeforeEach
    void setUp() throws IOException {
        m = TestSupport.root().newSubManager();
        try (InputStream in = getClass().getResourceAsStream("/vision/preprocess_reference.json")) {
            ref = new ObjectMapper().readTree(in);
        }
    }

    @AfterEach
    void tearDown() {
        m.close();
    }

    private RgbImage synthetic() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/vision/synthetic.png")) {
            return new ImageIoLoader().decode(in.readAllBytes(), "synthetic.png");
        }
    }

    private JsonNode refCase(String name) {
        for (JsonNode c : ref.get("cases")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new AssertionError("no reference case " + name);
    }

    /** Largest |ours − reference| over the sampled values; asserts the channel means within {@code meanTol}. */
    private double compare(RgbImage img, JsonNode c, double meanTol) {
        int s = c.get("size").asInt();
        NDArray out = new ImagePreprocessor(m, s).preprocess(img);
        assertEquals(new Shape(3, s, s), out.getShape());
        float[] v = out.toFloatArray();
        for (int ch = 0; ch < 3; ch++) {
            double mean = out.get(ch).mean().getFloat();
            assertEquals(c.get("mean").get(ch).asDouble(), mean, meanTol, c.get("name") + " mean of channel " + ch);
        }
        double worst = 0;
        for (JsonNode smp : c.get("samples")) {
            int idx = (smp.get(0).asInt() * s + smp.get(1).asInt()) * s + smp.get(2).asInt();
            worst = Math.max(worst, Math.abs(v[idx] - smp.get(3).asDouble()));
        }
        return worst;
    }

    @Test
    void syntheticPngMatchesTheNumpyReferenceDownAndUpsampled() throws IOException {
        RgbImage img = synthetic();
        for (String name : new String[] {"synthetic-down-32", "synthetic-up-96"}) {
            double worst = compare(img, refCase(name), 1e-4);
            assertTrue(worst <= LEVEL, name + ": max sample difference " + worst);
        }
    }

    @Test
    void cocoJpegMatchesTheNumpyReferenceWithinTheDecoderGap() {
        JsonNode dec = ref.get("decode");
        Path images = TestSupport.sharedData("coco-mini");
        RgbImage img = new ImageIoLoader().load(images.getParent().resolve(dec.get("source").asText()));
        assertEquals(dec.get("width").asInt(), img.width());
        assertEquals(dec.get("height").asInt(), img.height());
        int gap = 0;
        for (JsonNode smp : dec.get("samples")) {
            int ours = img.get(smp.get(1).asInt(), smp.get(0).asInt(), smp.get(2).asInt());
            gap = Math.max(gap, Math.abs(ours - smp.get(3).asInt()));
        }
        assertTrue(gap <= 8, "decoders differ by " + gap + " levels on the sampled pixels");
        double worst = compare(img, refCase("coco-224"), 3e-3);
        assertTrue(worst <= (gap + 1) * LEVEL, "coco-224: max sample difference " + worst + " with decoder gap " + gap);
    }

    @Test
    void batchStacksImagesAndCropsTheCentreOfTheLongerSide() {
        // 4×2 image, columns 0..3 with values 10, 20, 30, 40: resized to 2 px high (identity), cropped to the middle
        byte[] rgb = new byte[4 * 2 * 3];
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 4; x++) {
                for (int c = 0; c < 3; c++) {
                    rgb[(y * 4 + x) * 3 + c] = (byte) (10 * (x + 1));
                }
            }
        }
        NDArray b = new ImagePreprocessor(m, 2).batch(List.of(new RgbImage(4, 2, rgb), new RgbImage(4, 2, rgb)));
        assertEquals(new Shape(2, 3, 2, 2), b.getShape());
        float[] red = b.get("0, 0, 0, :").toFloatArray();
        float expected20 = (float) ((20 / 255.0 - ImagePreprocessor.CLIP_MEAN[0]) / ImagePreprocessor.CLIP_STD[0]);
        float expected30 = (float) ((30 / 255.0 - ImagePreprocessor.CLIP_MEAN[0]) / ImagePreprocessor.CLIP_STD[0]);
        assertArrayEquals(new float[] {expected20, expected30}, red, 1e-5f);
    }
}
