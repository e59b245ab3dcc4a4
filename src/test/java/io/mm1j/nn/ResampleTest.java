package io.mm1j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.mm1j.ManagedNdTest;
import org.junit.jupiter.api.Test;

class ResampleTest extends ManagedNdTest {
    /** DJL's PyTorch JNI interpolation mode code for bicubic. */
    private static final int TORCH_BICUBIC = 3;


    @Test
    void bothBicubicKernelsAreTheIdentityAtTheSameSizeAndPreserveConstants() {
        for (int n : new int[] {1, 2, 5, 24}) {
            double[] eye = new double[n * n];
            for (int i = 0; i < n; i++) {
                eye[i * n + i] = 1;
            }
            assertArrayEquals(eye, Resample.pilBicubic(n, n), 1e-15, "pil " + n);
            assertArrayEquals(eye, Resample.torchBicubic(n, n), 1e-15, "torch " + n);
        }
        for (int[] io : new int[][] {{47, 32}, {32, 47}, {640, 224}, {3, 17}, {27, 48}}) {
            for (double[] w : new double[][] {Resample.pilBicubic(io[0], io[1]), Resample.torchBicubic(io[0], io[1]),
                    Resample.adaptiveAverage(io[0], io[1])}) {
                for (int r = 0; r < io[1]; r++) {
                    double sum = 0;
                    for (int c = 0; c < io[0]; c++) {
                        sum += w[r * io[0] + c];
                    }
                    assertEquals(1.0, sum, 1e-12, io[0] + "→" + io[1] + " row " + r);
                }
            }
        }
    }

    /**
     * DJL's JNI {@code interpolate} runs torch's bicubic with {@code antialias=True} (its linear mode fails with
     * "Anti-alias option is only supported for bilinear and bicubic modes"), and torch's antialiased bicubic is
     * PIL's filter (a = -0.5, support scaled when downsampling): an independent check of {@link
     * Resample#pilBicubic} both ways.
     */
    @Test
    void pilBicubicMatrixEqualsTorchAntialiasedInterpolateUpAndDown() {
        NDArray x = m.randomNormal(0, 1, new Shape(1, 3, 12, 9), DataType.FLOAT64);
        for (int[] size : new int[][] {{24, 20}, {5, 4}, {12, 9}, {7, 30}}) {
            NDArray wy = Resample.matrix(m, Resample.pilBicubic(12, size[0]), size[0], 12, DataType.FLOAT64);
            NDArray wx = Resample.matrix(m, Resample.pilBicubic(9, size[1]), size[1], 9, DataType.FLOAT64);
            NDArray torch = JniUtils.interpolate((PtNDArray) x, new long[] {size[0], size[1]}, TORCH_BICUBIC, false);
            assertArrayEquals(torch.toDoubleArray(), Resample.apply(x, wy, wx).toDoubleArray(), 1e-12,
                    "12x9 → " + size[0] + "x" + size[1]);
        }
    }

    @Test
    void torchBicubicHandWorkedUpsampling() {
        // [0, 1] → 4 samples, torch bicubic A = -0.75, align_corners=False: source x = (i + 0.5)/2 - 0.5.
        // i = 0: x = -0.25, taps at 0, 0, 0, 1 (clamped) → weight of sample 1 = k(1.25) = -0.10546875.
        // i = 1: x = 0.25, taps 0, 0, 1, 1 → weight of sample 1 = k(0.75) + k(1.75) = 0.26171875 - 0.03515625.
        double[] w = Resample.torchBicubic(2, 4);
        assertEquals(-0.10546875, w[1], 1e-15);
        assertEquals(0.2265625, w[3], 1e-15);
        assertEquals(1 - 0.2265625, w[4 + 1], 1e-15); // i = 2 mirrors i = 1
    }

    @Test
    void pilBicubicKnownCoefficientsForAHalvingResize() {
        // 4 → 2: scale 2, support 4, centre of output 0 at 1.0; taps x = 0..3 at (x + 0.5 - 1) / 2 with a = -0.5:
        // k(-0.25) = k(0.25) = 0.8671875, k(0.75) = 0.2265625, k(1.25) = -0.0703125; sum 1.890625.
        double[] w = Resample.pilBicubic(4, 2);
        double sum = 1.890625;
        assertArrayEquals(new double[] {0.8671875 / sum, 0.8671875 / sum, 0.2265625 / sum, -0.0703125 / sum},
                java.util.Arrays.copyOf(w, 4), 1e-15);
    }

    @Test
    void pilBicubicBandHoldsExactlyTheDenseMatrixRowsItCovers() {
        for (int[] c : new int[][] {{47, 32, 0, 32}, {32, 47, 5, 30}, {640, 224, 100, 20}, {3, 17, 0, 17},
                {1, 336, 0, 336}}) {
            int in = c[0];
            double[] dense = Resample.pilBicubic(in, c[1]);
            double[] rows = java.util.Arrays.copyOfRange(dense, c[2] * in, (c[2] + c[3]) * in);
            Resample.Band band = Resample.pilBicubicBand(in, c[1], c[2], c[3]);
            assertArrayEquals(rows, band.toDense(), 0.0, in + "→" + c[1] + " rows " + c[2] + "+" + c[3]);
        }
    }

    @Test
    void aBandCostsTheFilterSupportNotTheResizedSize() {
        // The cover-resize of a 3000×1 image to 336 px is 1,008,000 columns wide; its dense matrix would hold
        // 3.0e9 doubles (24 GB). The band of the 336 columns the crop keeps: 4 taps each (upsampling by 336).
        Resample.Band band = Resample.pilBicubicBand(3000, 1_008_000, 503_832, 336);
        assertEquals(336, band.rows());
        assertEquals(4, band.maxTaps());
        assertEquals(1498, band.minInput()); // centres 1499.50 .. 1500.50, taps int(c - 1.5) .. int(c + 2.5)
        assertEquals(1502, band.maxInput());
        // Downsampling 4000 → 336 (scale 11.9): support 23.8 each side, so int(c + 24.3) - int(c - 23.3) ≤ 48 taps.
        assertEquals(48, Resample.pilBicubicBand(4000, 336, 0, 336).maxTaps());
    }
}
