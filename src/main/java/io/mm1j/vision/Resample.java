package io.mm1j.vision;

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
 * weights are computed (and unit-tested) in plain Java, and cropping is just dropping rows of a matrix. For the
 * sizes here (≤ 1344 px, ≤ 48 patch rows) the dense matrices cost less than decoding the image.
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
        double[] w = new double[out * in];
        double scale = (double) in / out;
        double filterScale = Math.max(scale, 1.0);
        double support = 2.0 * filterScale;
        for (int i = 0; i < out; i++) {
            double center = (i + 0.5) * scale;
            int lo = Math.max(0, (int) (center - support + 0.5));
            int hi = Math.min(in, (int) (center + support + 0.5));
            double sum = 0;
            for (int x = lo; x < hi; x++) {
                double k = cubic((x - center + 0.5) / filterScale, -0.5);
                w[i * in + x] = k;
                sum += k;
            }
            if (sum != 0) {
                for (int x = lo; x < hi; x++) {
                    w[i * in + x] /= sum;
                }
            }
        }
        return w;
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

    /** Rows {@code from .. from+count-1} of a row-major (out, in) matrix (a crop after the resize). */
    public static double[] rows(double[] w, int in, int from, int count) {
        double[] r = new double[count * in];
        System.arraycopy(w, from * in, r, 0, count * in);
        return r;
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
