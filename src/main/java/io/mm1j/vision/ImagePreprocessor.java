package io.mm1j.vision;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.mm1j.Mm1Exception;
import io.mm1j.nn.Resample;
import java.util.List;

/**
 * CLIP preprocessing (MM1_SPEC.md §1; HF {@code CLIPImageProcessor}): resize the shorter side to the encoder's
 * resolution with PIL's bicubic, center-crop, scale to [0, 1], normalise with CLIP's mean and std.
 *
 * <pre>
 *   (H, W) → shorter side S, longer int(S·long/short)    HF get_resize_output_image_size, default_to_square=False
 *   crop S×S at top = (h - S) // 2, left = (w - S) // 2   HF center_crop (floor; torchvision rounds instead)
 *   x = (v / 255 - mean_c) / std_c
 * </pre>
 *
 * <p>Resize and crop are one separable linear map per axis ({@link Resample#pilBicubicBand}: a = -0.5, antialiased
 * when downsampling, as PIL), applied as two banded passes: each output pixel reads only the filter's support, and
 * only the rows and columns that survive the crop are computed, so memory and time follow the output size and the
 * filter, never the product of input and resized sizes (a 1×3000 image cover-resized to 336 px would otherwise be
 * a 24 GB matrix). Weights are float32 and each sum is a chain of fused multiply-adds over the taps in input order,
 * as a BLAS kernel accumulates the float32 matrix products this replaced: measured against those, 1 value in 530,000
 * differs, by one level ({@code BandedResizeTest}). PIL works on 8-bit images: it runs the
 * horizontal pass first, rounds half up and clips to 0..255, then the vertical pass likewise; mm1j does the same,
 * because skipping that clipping changes pixels next to sharp edges by up to 0.2 after normalisation (bicubic
 * overshoot), measured by the numpy reference {@code src/test/resources/vision/preprocess_reference.py}. What
 * remains is float32 vs PIL's 22-bit fixed-point weights: an occasional ±1 level (1/255/std ≈ 0.015) at a rounding
 * tie; a preprocessor built with {@code pilFixedPoint} ({@link PilResize}, used for LLaVA folders) has none.
 */
public final class ImagePreprocessor {
    /** CLIP (OpenAI, also DFN / OpenCLIP ViT-H) normalisation. */
    public static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
    public static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};

    private final NDManager manager;
    private final int size;
    private final float[] scale = new float[3]; // level → normalised value: level · scale_c − shift_c
    private final float[] shift = new float[3];
    private final boolean pilFixedPoint;

    /**
     * @param manager where the output tensors are created (e.g. a batch's scope)
     * @param size    the encoder's square input resolution ({@code VisionConfig.imageSize})
     */
    public ImagePreprocessor(NDManager manager, int size) {
        this(manager, size, 1 / 255.0, CLIP_MEAN, CLIP_STD, false);
    }

    /**
     * A preprocessor with another normalisation, as a Hugging Face {@code preprocessor_config.json} gives it:
     * {@code x = (level · rescale − mean_c) / std_c} (rescale 1/255 and CLIP's mean/std by default).
     *
     * @param pilFixedPoint resize with PIL's own 22-bit fixed-point arithmetic ({@link PilResize}: bit-exact with
     *                      HF processors) instead of float32 (equal up to one level at rounding ties)
     */
    public ImagePreprocessor(NDManager manager, int size, double rescale, double[] mean, double[] std,
                             boolean pilFixedPoint) {
        if (size < 1) {
            throw new Mm1Exception("image size must be positive, got " + size);
        }
        this.manager = manager;
        this.size = size;
        this.pilFixedPoint = pilFixedPoint;
        for (int c = 0; c < 3; c++) {
            // 1/(255·std) as mm1j always computed it, so the default stays bit-identical
            scale[c] = (float) (rescale == 1 / 255.0 ? 1.0 / (255.0 * std[c]) : rescale / std[c]);
            shift[c] = (float) (mean[c] / std[c]);
        }
    }

    public int size() {
        return size;
    }

    /** A batch {@code (N, 3, S, S)} float32. */
    public NDArray batch(List<RgbImage> images) {
        if (images.isEmpty()) {
            throw new Mm1Exception("no images to preprocess");
        }
        NDList each = new NDList();
        for (RgbImage img : images) {
            each.add(preprocess(img));
        }
        return NDArrays.stack(each); // (N, 3, S, S)
    }

    /** One image → {@code (3, S, S)} float32. */
    public NDArray preprocess(RgbImage img) {
        return resizeCropNormalise(img, size, size);
    }

    /**
     * Cover-resize (the image scaled so that it covers {@code outH × outW}, aspect kept; for a square target the
     * shorter side becomes the target side) then center crop, then CLIP normalisation: {@code (3, outH, outW)}.
     */
    public NDArray resizeCropNormalise(RgbImage img, int outH, int outW) {
        return normalise(coverCropLevels(img, outH, outW), outH, outW);
    }

    /**
     * The cover-resize and center crop of {@link #resizeCropNormalise} as 8-bit levels {@code (3, outH, outW)},
     * before normalisation (what {@code mm1 data shard --model} stores; needs no tensor manager).
     */
    public float[] coverCropLevels(RgbImage img, int outH, int outW) {
        int h = img.height();
        int w = img.width();
        int newH;
        int newW;
        if ((long) w * outH >= (long) h * outW) { // relatively wider than the target: the height decides
            newH = outH;
            newW = Math.max(outW, resizedSide((double) outH * w / h, img));
        } else {
            newW = outW;
            newH = Math.max(outH, resizedSide((double) outW * h / w, img));
        }
        return window(img, newH, newW, (newH - outH) / 2, (newW - outW) / 2, outH, outW);
    }

    /**
     * HF {@code CLIPImageProcessor} with {@code size.shortest_edge} and {@code crop_size} given separately: the
     * shorter side resized to {@code shortest} (the longer to {@code int(shortest · long / short)}), then the
     * {@code cropH × cropW} center crop at {@code ((h − cropH) // 2, (w − cropW) // 2)}: {@code (3, cropH, cropW)}.
     */
    public NDArray resizeShortestCrop(RgbImage img, int shortest, int cropH, int cropW) {
        int h = img.height();
        int w = img.width();
        int newH = h <= w ? shortest : resizedSide((double) shortest * h / w, img);
        int newW = h <= w ? resizedSide((double) shortest * w / h, img) : shortest;
        if (newH < cropH || newW < cropW) {
            throw new Mm1Exception("image of " + w + "x" + h + " pixels resized to " + newW + "x" + newH
                    + " is smaller than the " + cropW + "x" + cropH + " crop");
        }
        return normalise(window(img, newH, newW, (newH - cropH) / 2, (newW - cropW) / 2, cropH, cropW), cropH,
                cropW);
    }

    /**
     * The image resized to exactly {@code outH × outW} (aspect not kept, no crop) as 8-bit levels
     * {@code (3, outH, outW)} row-major, PIL bicubic as {@link #resizeCropNormalise}; an image already of that size
     * is copied as is (PIL returns a copy then).
     */
    public float[] resizedLevels(RgbImage img, int outH, int outW) {
        if (img.height() == outH && img.width() == outW) {
            byte[] rgb = img.rgb();
            float[] out = new float[3 * outH * outW];
            for (int i = 0; i < outH * outW; i++) {
                for (int c = 0; c < 3; c++) {
                    out[c * outH * outW + i] = rgb[i * 3 + c] & 0xff;
                }
            }
            return out;
        }
        return window(img, outH, outW, 0, 0, outH, outW);
    }

    /** 8-bit levels {@code (3, h, w)} → normalised {@code (3, h, w)} float32 with this preprocessor's mean/std. */
    public NDArray normalise(float[] levels, int h, int w) {
        float[] out = new float[levels.length];
        int plane = h * w;
        for (int i = 0; i < out.length; i++) {
            int c = i / plane;
            out[i] = levels[i] * scale[c] - shift[c];
        }
        return manager.create(out, new Shape(3, h, w));
    }

    /** Resize to {@code newH × newW}, keep the {@code outH × outW} window at (top, left): 8-bit levels (3, outH, outW). */
    private float[] window(RgbImage img, int newH, int newW, int top, int left, int outH, int outW) {
        return pilFixedPoint ? PilResize.levels(img, newH, newW, top, left, outH, outW)
                : levels(img, newH, newW, top, left, outH, outW);
    }

    /** {@link #window} in float32 with fused multiply-adds. */
    private static float[] levels(RgbImage img, int newH, int newW, int top, int left, int outH, int outW) {
        int h = img.height();
        int w = img.width();
        Resample.Band by = Resample.pilBicubicBand(h, newH, top, outH);
        Resample.Band bx = Resample.pilBicubicBand(w, newW, left, outW);
        int y0 = by.minInput();
        int y1 = by.maxInput();
        float[] horizontal = horizontalPass(img, bx, y0, y1); // (3, y1 - y0, outW), 8-bit levels
        float[] out = new float[3 * outH * outW];
        int rows = y1 - y0;
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < outH; y++) {
                int from = by.start()[y] - y0;
                int taps = by.taps()[y];
                for (int x = 0; x < outW; x++) {
                    float acc = 0;
                    for (int t = 0; t < taps; t++) {
                        acc = Math.fma((float) by.weight(y, t), horizontal[(c * rows + from + t) * outW + x], acc);
                    }
                    out[(c * outH + y) * outW + x] = roundClip(acc);
                }
            }
        }
        return out;
    }

    /** The longer side after the cover-resize, truncated like Python's {@code int()}; it must fit an int. */
    private static int resizedSide(double side, RgbImage img) {
        if (side >= Integer.MAX_VALUE) {
            throw new Mm1Exception("image of " + img.width() + "x" + img.height() + " pixels: aspect ratio too "
                    + "extreme to resize");
        }
        return (int) side;
    }

    /** PIL's first pass: every input row in {@code [y0, y1)} resized horizontally, rounded and clipped to 8 bits. */
    private static float[] horizontalPass(RgbImage img, Resample.Band bx, int y0, int y1) {
        byte[] rgb = img.rgb();
        int w = img.width();
        int outW = bx.rows();
        int rows = y1 - y0;
        float[] out = new float[3 * rows * outW]; // (3, rows, outW)
        float[] weights = new float[bx.weights().length];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (float) bx.weights()[i]; // float32 weights, as the matrices were before
        }
        for (int y = 0; y < rows; y++) {
            int rowStart = (y0 + y) * w;
            for (int x = 0; x < outW; x++) {
                int from = bx.start()[x];
                int taps = bx.taps()[x];
                int wo = x * bx.maxTaps();
                for (int c = 0; c < 3; c++) {
                    float acc = 0;
                    for (int t = 0; t < taps; t++) {
                        acc = Math.fma(weights[wo + t], (float) (rgb[(rowStart + from + t) * 3 + c] & 0xff), acc);
                    }
                    out[(c * rows + y) * outW + x] = roundClip(acc);
                }
            }
        }
        return out;
    }

    /** Round half up and clip to 0..255, as PIL stores each pass in 8 bits. */
    private static float roundClip(float v) {
        return Math.min(255f, Math.max(0f, (float) Math.floor(v + 0.5f)));
    }
}
