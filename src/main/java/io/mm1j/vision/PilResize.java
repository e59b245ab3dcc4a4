package io.mm1j.vision;

/**
 * PIL's bicubic resize of an 8-bit RGB image, bit for bit (Pillow's {@code Resample.c}: what Hugging Face image
 * processors call through {@code PIL.Image.resize}): per output sample the filter's taps and double weights
 * (a = -0.5, support 2 widened by the downsampling factor, normalised to sum 1), those weights rounded to 22-bit
 * fixed point ({@code ±0.5} then truncation), sums of 8-bit levels times weights in int arithmetic started at half
 * a unit, shifted back and clipped to 0..255; the horizontal pass first, then the vertical pass over its 8-bit
 * output.
 *
 * <p>{@link ImagePreprocessor}'s float32 passes agree with this except at rounding ties (one level); LLaVA folders,
 * whose reference is HF's processor, preprocess through this class.
 */
final class PilResize {
    /** Pillow: {@code 32 - 8 - 2} fractional bits for 8-bit images. */
    private static final int PRECISION_BITS = 22;

    private PilResize() {}

    /** Taps of output samples {@code from .. from+count-1} of an {@code in → out} resize. */
    private record Coeffs(int[] start, int[] taps, int[] k, int ksize) {
        int minInput() {
            return start[0];
        }

        int maxInput() {
            int m = 0;
            for (int r = 0; r < start.length; r++) {
                m = Math.max(m, start[r] + taps[r]);
            }
            return m;
        }
    }

    private static double bicubic(double x) {
        final double a = -0.5;
        if (x < 0.0) {
            x = -x;
        }
        if (x < 1.0) {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }
        if (x < 2.0) {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0.0;
    }

    private static Coeffs coeffs(int inSize, int outSize, int from, int count) {
        double scale = (double) inSize / outSize; // Pillow: (double) (float in1 - float in0) / outSize, exact here
        double filterScale = Math.max(scale, 1.0);
        double support = 2.0 * filterScale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] start = new int[count];
        int[] taps = new int[count];
        int[] k = new int[count * ksize];
        double[] w = new double[ksize];
        double ss = 1.0 / filterScale;
        for (int r = 0; r < count; r++) {
            double center = (from + r + 0.5) * scale;
            int xmin = Math.max(0, (int) (center - support + 0.5));
            int xmax = Math.min(inSize, (int) (center + support + 0.5)) - xmin;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                w[x] = bicubic((x + xmin - center + 0.5) * ss);
                ww += w[x];
            }
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0.0 ? w[x] / ww : w[x];
                k[r * ksize + x] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
            }
            start[r] = xmin;
            taps[r] = Math.max(0, xmax);
        }
        return new Coeffs(start, taps, k, ksize);
    }

    private static int clip8(int acc) {
        int v = acc >> PRECISION_BITS;
        return v < 0 ? 0 : Math.min(v, 255);
    }

    /**
     * The image resized to {@code newH × newW}, then the {@code outH × outW} window at (top, left): 8-bit levels
     * {@code (3, outH, outW)} row-major. Only the window (and the input rows it reads) is computed.
     */
    static float[] levels(RgbImage img, int newH, int newW, int top, int left, int outH, int outW) {
        int w = img.width();
        Coeffs cy = coeffs(img.height(), newH, top, outH);
        Coeffs cx = coeffs(w, newW, left, outW);
        int y0 = cy.minInput();
        int rows = cy.maxInput() - y0;
        byte[] rgb = img.rgb();
        int[] horizontal = new int[3 * rows * outW]; // (3, rows, outW) 8-bit levels
        for (int y = 0; y < rows; y++) {
            int rowStart = (y0 + y) * w;
            for (int x = 0; x < outW; x++) {
                int from = cx.start()[x];
                int ko = x * cx.ksize();
                for (int c = 0; c < 3; c++) {
                    int acc = 1 << (PRECISION_BITS - 1);
                    for (int t = 0; t < cx.taps()[x]; t++) {
                        acc += (rgb[(rowStart + from + t) * 3 + c] & 0xff) * cx.k()[ko + t];
                    }
                    horizontal[(c * rows + y) * outW + x] = clip8(acc);
                }
            }
        }
        float[] out = new float[3 * outH * outW];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < outH; y++) {
                int from = cy.start()[y] - y0;
                int ko = y * cy.ksize();
                for (int x = 0; x < outW; x++) {
                    int acc = 1 << (PRECISION_BITS - 1);
                    for (int t = 0; t < cy.taps()[y]; t++) {
                        acc += horizontal[(c * rows + from + t) * outW + x] * cy.k()[ko + t];
                    }
                    out[(c * outH + y) * outW + x] = clip8(acc);
                }
            }
        }
        return out;
    }
}
