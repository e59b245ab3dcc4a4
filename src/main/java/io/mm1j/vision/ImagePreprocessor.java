package io.mm1j.vision;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.Mm1Exception;
import java.nio.ByteBuffer;
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
 * <p>Resize and crop are one separable linear map per axis ({@link Resample#pilBicubic}: a = -0.5, antialiased
 * when downsampling, as PIL), applied as two matmuls on the float image. PIL works on 8-bit images: it runs the
 * horizontal pass first, rounds half up and clips to 0..255, then the vertical pass likewise; mm1j does the same,
 * because skipping that clipping changes pixels next to sharp edges by up to 0.2 after normalisation (bicubic
 * overshoot), measured by the numpy reference {@code src/test/resources/vision/preprocess_reference.py}. What
 * remains is float32 vs PIL's 22-bit fixed-point weights: an occasional ±1 level (1/255/std ≈ 0.015) at a rounding
 * tie.
 */
public final class ImagePreprocessor {
    /** CLIP (OpenAI, also DFN / OpenCLIP ViT-H) normalisation. */
    public static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
    public static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};

    private final NDManager manager;
    private final int size;

    /**
     * @param manager where the output tensors are created (e.g. a batch's scope)
     * @param size    the encoder's square input resolution ({@code VisionConfig.imageSize})
     */
    public ImagePreprocessor(NDManager manager, int size) {
        if (size < 1) {
            throw new Mm1Exception("image size must be positive, got " + size);
        }
        this.manager = manager;
        this.size = size;
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
        int h = img.height();
        int w = img.width();
        int newH;
        int newW;
        if ((long) w * outH >= (long) h * outW) { // relatively wider than the target: the height decides
            newH = outH;
            newW = Math.max(outW, (int) ((double) outH * w / h));
        } else {
            newW = outW;
            newH = Math.max(outH, (int) ((double) outW * h / w));
        }
        int top = (newH - outH) / 2;
        int left = (newW - outW) / 2;
        double[] wy = Resample.rows(Resample.pilBicubic(h, newH), h, top, outH);
        double[] wx = Resample.rows(Resample.pilBicubic(w, newW), w, left, outW);
        try (NDManager tmp = manager.newSubManager()) {
            NDArray pixels = tmp.create(ByteBuffer.wrap(img.rgb()), new Shape(h, w, 3), DataType.UINT8)
                    .toType(DataType.FLOAT32, false)
                    .transpose(2, 0, 1); // (H, W, 3) → (3, H, W)
            NDArray my = Resample.matrix(tmp, wy, outH, h, DataType.FLOAT32);
            NDArray mx = Resample.matrix(tmp, wx, outW, w, DataType.FLOAT32);
            NDArray half = tmp.create(0.5f);
            NDArray horizontal = pixels.matMul(mx.transpose()).add(half).floor().clip(0, 255); // (3, H, outW)
            NDArray resized = my.matMul(horizontal).add(half).floor().clip(0, 255); // (3, outH, outW)
            NDArray out = resized.mul(scale(tmp)).sub(shift(tmp));
            out.attach(manager);
            return out;
        }
    }

    /** 1 / (255·std_c) as (3, 1, 1). */
    private static NDArray scale(NDManager m) {
        float[] v = new float[3];
        for (int c = 0; c < 3; c++) {
            v[c] = (float) (1.0 / (255.0 * CLIP_STD[c]));
        }
        return m.create(v, new Shape(3, 1, 1));
    }

    /** mean_c / std_c as (3, 1, 1). */
    private static NDArray shift(NDManager m) {
        float[] v = new float[3];
        for (int c = 0; c < 3; c++) {
            v[c] = (float) (CLIP_MEAN[c] / CLIP_STD[c]);
        }
        return m.create(v, new Shape(3, 1, 1));
    }
}
