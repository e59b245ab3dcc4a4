package io.mm1j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import io.mm1j.nn.Resample;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The banded resize against the dense formulation it replaced: the full (out, in) PIL matrices per axis, cropped
 * by dropping rows, applied as two float32 matrix products with 8-bit rounding after each (the code of
 * {@link ImagePreprocessor} before banding, kept here as the reference). Same weights, same order of summation
 * over the non-zero taps: the outputs must be bit-identical.
 */
class BandedResizeTest extends ManagedNdTest {
    /**
     * Measured on this machine (MKL sgemm, AVX-512): 1 value of 530,000 differs, by one 8-bit level — a sum that
     * lands within a float32 rounding of a .5 tie, where the BLAS kernel split the sum at a block boundary and the
     * band does not. The dense products themselves differ between CPUs in the same way; the band is deterministic.
     */
    @Test
    void bandedResizeMatchesTheDenseMatrixProductsItReplaced() {
        SplittableRandom rnd = new SplittableRandom(7);
        int[][] cases = {{47, 31, 16, 16}, {640, 480, 224, 224}, {13, 200, 32, 32}, {300, 17, 40, 24},
            {96, 96, 96, 96}, {5, 3, 64, 48}, {1000, 999, 336, 336}};
        double level = 1.0 / 255 / ImagePreprocessor.CLIP_STD[1] + 1e-6; // the largest 1/(255·std_c)
        long total = 0;
        long differ = 0;
        for (int[] c : cases) {
            RgbImage img = smoothNoise(c[0], c[1], rnd);
            float[] banded = new ImagePreprocessor(m, 1).resizeCropNormalise(img, c[2], c[3]).toFloatArray();
            float[] dense = dense(m, img, c[2], c[3]);
            assertEquals(dense.length, banded.length);
            for (int i = 0; i < dense.length; i++) {
                if (Float.floatToIntBits(dense[i]) != Float.floatToIntBits(banded[i])) {
                    differ++;
                    assertEquals(dense[i], banded[i], level, c[0] + "x" + c[1] + " → " + c[2] + "x" + c[3] + " at " + i);
                }
            }
            total += dense.length;
        }
        assertTrue(differ <= total / 100_000, differ + " of " + total + " values differ from the dense products");
    }

    @Test
    void aThreeThousandToOneImageResizesInBoundedMemory() {
        byte[] rgb = new byte[3000 * 3];
        for (int x = 0; x < 3000; x++) {
            rgb[3 * x] = (byte) 200;
            rgb[3 * x + 1] = (byte) 100;
            rgb[3 * x + 2] = (byte) 50;
        }
        NDArray out = new ImagePreprocessor(m, 336).preprocess(new RgbImage(3000, 1, rgb));
        assertEquals(new Shape(3, 336, 336), out.getShape());
        float[] v = out.toFloatArray();
        int[] level = {200, 100, 50};
        for (int c = 0; c < 3; c++) {
            float expected = (float) (1.0 / (255.0 * ImagePreprocessor.CLIP_STD[c])) * level[c]
                    - (float) (ImagePreprocessor.CLIP_MEAN[c] / ImagePreprocessor.CLIP_STD[c]);
            for (int i = c * 336 * 336; i < (c + 1) * 336 * 336; i++) {
                assertEquals(expected, v[i], 0f, "a constant image stays constant, channel " + c);
            }
        }
    }

    /** Random walk per row and column: image-like gradients plus edges, so bicubic overshoot is exercised. */
    static RgbImage smoothNoise(int w, int h, SplittableRandom rnd) {
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.length; i++) {
            int left = i >= 3 && (i / 3) % w != 0 ? rgb[i - 3] & 0xff : rnd.nextInt(256);
            int v = rnd.nextInt(10) == 0 ? rnd.nextInt(256) : Math.max(0, Math.min(255, left + rnd.nextInt(-9, 10)));
            rgb[i] = (byte) v;
        }
        return new RgbImage(w, h, rgb);
    }

    /** The pre-banding implementation: dense float32 matrices and two matMuls. */
    static float[] dense(NDManager manager, RgbImage img, int outH, int outW) {
        int h = img.height();
        int w = img.width();
        int newH;
        int newW;
        if ((long) w * outH >= (long) h * outW) {
            newH = outH;
            newW = Math.max(outW, (int) ((double) outH * w / h));
        } else {
            newW = outW;
            newH = Math.max(outH, (int) ((double) outW * h / w));
        }
        int top = (newH - outH) / 2;
        int left = (newW - outW) / 2;
        double[] wy = rows(Resample.pilBicubic(h, newH), h, top, outH);
        double[] wx = rows(Resample.pilBicubic(w, newW), w, left, outW);
        try (NDManager tmp = manager.newSubManager()) {
            NDArray pixels = tmp.create(ByteBuffer.wrap(img.rgb()), new Shape(h, w, 3), DataType.UINT8)
                    .toType(DataType.FLOAT32, false)
                    .transpose(2, 0, 1);
            NDArray my = Resample.matrix(tmp, wy, outH, h, DataType.FLOAT32);
            NDArray mx = Resample.matrix(tmp, wx, outW, w, DataType.FLOAT32);
            NDArray half = tmp.create(0.5f);
            NDArray horizontal = pixels.matMul(mx.transpose()).add(half).floor().clip(0, 255);
            NDArray resized = my.matMul(horizontal).add(half).floor().clip(0, 255);
            float[] scale = new float[3];
            float[] shift = new float[3];
            for (int c = 0; c < 3; c++) {
                scale[c] = (float) (1.0 / (255.0 * ImagePreprocessor.CLIP_STD[c]));
                shift[c] = (float) (ImagePreprocessor.CLIP_MEAN[c] / ImagePreprocessor.CLIP_STD[c]);
            }
            return resized.mul(tmp.create(scale, new Shape(3, 1, 1))).sub(tmp.create(shift, new Shape(3, 1, 1)))
                    .toFloatArray();
        }
    }

    private static double[] rows(double[] w, int in, int from, int count) {
        double[] r = new double[count * in];
        System.arraycopy(w, from * in, r, 0, count * in);
        return r;
    }
}
