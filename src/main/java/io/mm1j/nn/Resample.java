package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Separable 2-D resampling as two matrix products: {@code y = Wy · x · Wxᵀ} over the last two axes.
 *
 * <p>Why matrices: bicubic resizing, position-embedding interpolation and adaptive average pooling are all linear
 * maps that factor per axis. One {@code matMul} per axis is a batched, differentiable tensor op on any device, the
 * weights are computed (and unit-tested) in plain Java, and cropping is just dropping rows of a matrix. Dense
 * matrices are for sizes the config bounds (patch grids, pooled token grids).
 *
 * <p>Image resizing takes sizes from the input file, so it uses {@link Band}s instead: only the filter's support
 * per output sample, and only the output rows that survive the crop. A dense (out, in) matrix for a 1×3000 image
 * cover-resized to 336 px would be 1,008,000 × 3000 doubles (24 GB); its band is 336 rows of 4 taps.
 *
 * <p>Three kernels, each pinned to the reference the field uses:
 * <ul>
 *   <li>{@link #pilBicubic}: PIL's {@code Image.resize(BICUBIC)} (Resample.c): cubic convolution with a = -0.5,
 *       support 2 stretched by the scale factor when downsampling (antialiasing), pixel centres at i + 0.5, taps
 *       outside the image dropped and the remaining weights renormalised. HF's CLIPImageProcessor resizes with it.
 *       Tested equal (1e-12) to torch's antialiased bicubic, which reimplements PIL's filter.
 *   <li>{@link #torchBicubic}: {@code torch.nn.functional.interpolate(mode="bicubic", align_corners=False)}: a = -0.75,
 *       always 4 taps (no antialiasing), indices clamped to the border. HF CLIP interpolates position embeddings
 *       with it.
 *   <li>{@link #adaptiveAverage}: {@code adaptive_avg_pool}: output i averages inputs floor(i·in/out) ..
 *       ceil((i+1)·in/out) - 1.
 * </ul>
 */
public final class Resample {
    private Resample() {}

    /** {@code x (…, H, W)}, {@code wy (H', H)}, {@code wx (W', W)} → {@code (…, H', W')}. */
    public static NDArray apply(NDArray x, NDArray wy, NDArray wx) {
        return wy.matMul(x.matMul(wx.transpose())); // (…, H, W') then (…, H', W')
    }

    /** Keys cubic convolution kernel with parameter {@code a}. */
    static double cubic(double x, double a) {
        x = Math.abs(x);
        if (x < 1) {
            return ((a + 2) * x - (a + 3)) * x * x + 1;
        }
        if (x < 2) {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0;
    }

    /** PIL bicubic weights resizing {@code in} samples to {@code out}: a row-major (out, in) matrix. */
    public static double[] pilBicubic(int in, int out) {
        return pilBicubicBand(in, out, 0, out).toDense();
    }

    /**
     * Rows {@code from .. from+count-1} of PIL's bicubic (out, in) matrix as a band: the same weights as {@link
     * #pilBicubic}, computed in the same order, without the zeros and without the rows a crop drops.
     */
    public static Band pilBicubicBand(int in, int out, int from, int count) {
        if (in < 1 || out < 1 || from < 0 || count < 0 || (long) from + count > out) {
            throw new IllegalArgumentException("rows " + from + "+" + count + " of a " + in + " → " + out
                    + " resize");
        }
        double scale = (double) in / out;
        double filterScale = Math.max(scale, 1.0);
        double support = 2.0 * filterScale;
        int[] start = new int[count];
        int[] taps = new int[count];
        int maxTaps = 0;
        for (int r = 0; r < count; r++) {
            double center = (from + r + 0.5) * scale;
            start[r] = Math.max(0, (int) (center - support + 0.5));
            taps[r] = Math.max(0, Math.min(in, (int) (center + support + 0.5)) - start[r]);
            maxTaps = Math.max(maxTaps, taps[r]);
        }
        double[] w = new double[count * maxTaps];
        for (int r = 0; r < count; r++) {
            double center = (from + r + 0.5) * scale;
            double sum = 0;
            for (int t = 0; t < taps[r]; t++) {
                double k = cubic((start[r] + t - center + 0.5) / filterScale, -0.5);
                w[r * maxTaps + t] = k;
                sum += k;
            }
            if (sum != 0) {
                for (int t = 0; t < taps[r]; t++) {
                    w[r * maxTaps + t] /= sum;
                }
            }
        }
        return new Band(in, start, taps, w, maxTaps);
    }

    /**
     * A banded (rows, in) resampling matrix: output row r is {@code Σ_t weight(r, t) · input[start[r] + t]} for
     * {@code t < taps[r]}; every other entry of the row is zero.
     *
     * @param in      input samples (columns of the dense matrix)
     * @param start   first input sample of each row
     * @param taps    non-zero entries of each row ({@code ≤ maxTaps})
     * @param weights row-major (rows, maxTaps)
     * @param maxTaps the row stride of {@code weights}
     */
    public record Band(int in, int[] start, int[] taps, double[] weights, int maxTaps) {
        public int rows() {
            return start.length;
        }

        public double weight(int row, int tap) {
            return weights[row * maxTaps + tap];
        }

        /** First input sample any row reads. */
        public int minInput() {
            int m = in;
            for (int r = 0; r < rows(); r++) {
                m = Math.min(m, start[r]);
            }
            return Math.min(m, maxInput());
        }

        /** One past the last input sample any row reads. */
        public int maxInput() {
            int m = 0;
            for (int r = 0; r < rows(); r++) {
                m = Math.max(m, start[r] + taps[r]);
            }
            return m;
        }

        /** The dense row-major (rows, in) matrix (for small sizes and tests). */
        public double[] toDense() {
            double[] d = new double[Math.multiplyExact(rows(), in)];
            for (int r = 0; r < rows(); r++) {
                for (int t = 0; t < taps[r]; t++) {
                    d[r * in + start[r] + t] = weight(r, t);
                }
            }
            return d;
        }
    }

    /** torch bicubic (align_corners=False) weights: a row-major (out, in) matrix; the identity when in == out. */
    public static double[] torchBicubic(int in, int out) {
        double[] w = new double[out * in];
        double scale = (double) in / out;
        for (int i = 0; i < out; i++) {
            double src = (i + 0.5) * scale - 0.5;
            int base = (int) Math.floor(src);
            double t = src - base;
            for (int j = -1; j <= 2; j++) {
                int idx = Math.min(in - 1, Math.max(0, base + j));
                w[i * in + idx] += cubic(j - t, -0.75);
            }
        }
        return w;
    }

    /** Adaptive average pooling weights: a row-major (out, in) matrix. */
    public static double[] adaptiveAverage(int in, int out) {
        double[] w = new double[out * in];
        for (int i = 0; i < out; i++) {
            int start = Math.floorDiv(i * in, out);
            int end = -Math.floorDiv(-(i + 1) * in, out); // ceil
            for (int x = start; x < end; x++) {
                w[i * in + x] = 1.0 / (end - start);
            }
        }
        return w;
    }

    /** A (rows, cols) NDArray of {@code w} in {@code dtype}. */
    public static NDArray matrix(NDManager m, double[] w, int rows, int cols, DataType dtype) {
        NDArray a = m.create(w, new Shape(rows, cols));
        return dtype == DataType.FLOAT64 ? a : a.toType(dtype, false);
    }

    /**
     * Constant matrices kept for the life of a module (they take part in autograd as saved operands, so they must
     * outlive the backward pass, like the cached scalars of the cookbook's pitfall 1).
     */
    public static final class Cache {
        private final NDManager manager;
        private final DataType dtype;
        private final Map<String, NDArray> cache = new ConcurrentHashMap<>();

        public Cache(NDManager manager, DataType dtype) {
            this.manager = manager;
            this.dtype = dtype;
        }

        /** Adaptive-average (out, in) matrix. */
        public NDArray adaptiveAverage(int in, int out) {
            return get("avg:" + in + ":" + out, () -> Resample.adaptiveAverage(in, out), out, in);
        }

        /** torch-bicubic (out, in) matrix. */
        public NDArray torchBicubic(int in, int out) {
            return get("bicubic:" + in + ":" + out, () -> Resample.torchBicubic(in, out), out, in);
        }

        private NDArray get(String key, java.util.function.Supplier<double[]> w, int rows, int cols) {
            return cache.computeIfAbsent(key, k -> {
                NDArray a = matrix(manager, w.get(), rows, cols, dtype);
                NDScope.unregister(a);
                return a;
            });
        }
    }
}
