package io.mm1j.llava;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import io.mm1j.mllm.ImagePipeline;
import io.mm1j.vision.ImagePreprocessor;
import io.mm1j.vision.RgbImage;
import io.mm1j.vision.VisionTransformer;
import java.util.List;

/**
 * LLaVA's image path (HF {@code get_image_features} + {@code pack_image_features}):
 *
 * <pre>
 *   LLaVA-1.5:  one CLIP crop → hidden_states[vision_feature_layer] → drop CLS ("default") → projector
 *   LLaVA-NeXT: [base; tiles] (AnyRes) → the same per tile → base tokens, then the tile grid
 *               (rows, cols, g, g, D) → (D, rows·g, cols·g), unpadded, image_newline after every row, row-major
 * </pre>
 *
 * The tile split is {@link io.mm1j.vision.HighResSplitter}'s layout (row-major tiles of the tower's resolution, one
 * extra whole-picture view) with LLaVA-NeXT's fit-and-pad instead of MM1's cover-and-crop, and the overview first.
 */
final class LlavaImages implements ImagePipeline {
    private final LlavaConfig config;
    private final LlavaPreprocessing preprocessing;
    private final VisionTransformer vision;
    private final LlavaProjector projector;
    private final Llava.Layout layout; // the key layout of the folder it was loaded from: saves keep it

    LlavaImages(LlavaConfig config, LlavaPreprocessing preprocessing, VisionTransformer vision,
                LlavaProjector projector, Llava.Layout layout) {
        this.config = config;
        this.preprocessing = preprocessing;
        this.vision = vision;
        this.projector = projector;
        this.layout = layout;
    }

    LlavaConfig config() {
        return config;
    }

    LlavaPreprocessing preprocessing() {
        return preprocessing;
    }

    Llava.Layout layout() {
        return layout;
    }

    @Override
    public Prepared prepare(RgbImage image, NDManager manager) {
        ImagePreprocessor pre = preprocessing.preprocessor(manager);
        int s = config.vision().imageSize();
        if (config.kind() == LlavaConfig.Kind.LLAVA) {
            NDArray crop = pre.resizeShortestCrop(image, preprocessing.shortestEdge(), s, s); // (3, S, S)
            return new Prepared(crop.expandDims(0), image.height(), image.width(), config.tokensPerTile());
        }
        return new Prepared(tiles(pre, image), image.height(), image.width(), tokens(image.height(), image.width()));
    }

    /** LLaVA-NeXT: (1 + rows·cols, 3, S, S), the whole picture squashed to S × S first, then the tiles. */
    private NDArray tiles(ImagePreprocessor pre, RgbImage image) {
        int s = config.vision().imageSize();
        int h = image.height();
        int w = image.width();
        int[] best = AnyRes.bestResolution(h, w, config.gridPinpoints());
        int[] fit = AnyRes.fitted(h, w, best);
        float[] resized = pre.resizedLevels(image, fit[0], fit[1]); // (3, fh, fw) 8-bit levels
        int th = best[0];
        int tw = best[1];
        float[] canvas = new float[3 * th * tw]; // zero levels around the picture, as HF pads before rescaling
        int y0 = (th - fit[0]) / 2;
        int x0 = (tw - fit[1]) / 2;
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < fit[0]; y++) {
                System.arraycopy(resized, (c * fit[0] + y) * fit[1], canvas, (c * th + y0 + y) * tw + x0, fit[1]);
            }
        }
        NDList out = new NDList();
        out.add(pre.normalise(pre.resizedLevels(image, s, s), s, s));
        float[] tile = new float[3 * s * s];
        for (int r = 0; r < th / s; r++) {
            for (int col = 0; col < tw / s; col++) {
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < s; y++) {
                        System.arraycopy(canvas, (c * th + r * s + y) * tw + col * s, tile, (c * s + y) * s, s);
                    }
                }
                out.add(pre.normalise(tile, s, s));
            }
        }
        return NDArrays.stack(out); // (1 + rows·cols, 3, S, S)
    }

    @Override
    public int tokens(int height, int width) {
        if (config.kind() == LlavaConfig.Kind.LLAVA) {
            return config.tokensPerTile();
        }
        return AnyRes.tokens(height, width, config.gridPinpoints(), config.vision().imageSize(),
                config.vision().gridSize());
    }

    @Override
    public NDArray encode(List<Prepared> images) {
        NDList all = new NDList();
        for (Prepared p : images) {
            NDArray features = projector.forward(features(p.pixels())); // (n, k, D)
            all.add(config.kind() == LlavaConfig.Kind.LLAVA ? features.get(0) : pack(features, p));
        }
        return NDArrays.concat(all, 0); // (Σ tokens, D)
    }

    @Override
    public NDArray encodeCrops(NDArray pixels) {
        if (config.kind() == LlavaConfig.Kind.LLAVA_NEXT) {
            throw new io.mm1j.Mm1Exception("LLaVA-NeXT pictures are any-resolution tiles with their own token "
                    + "counts; batches of single " + config.vision().imageSize() + " px crops do not fit it");
        }
        return projector.forward(features(pixels)); // (N, k, D)
    }

    /** hidden_states[vision_feature_layer], CLS dropped unless "full": (n, P [+1], Dv). */
    private NDArray features(NDArray pixels) {
        NDArray pix = pixels.getDataType() == vision.params().dtype() ? pixels
                : pixels.toType(vision.params().dtype(), false); // a float64 model takes float64 pixels
        NDArray h = vision.hiddenState(pix); // (n, 1+P, Dv)
        return config.keepCls() ? h : h.get(":, 1:, :");
    }

    /** LLaVA-NeXT's pack_image_features for one picture: (1 + rows·cols, g², D) → (tokens, D). */
    private NDArray pack(NDArray features, Prepared p) {
        int g = config.vision().gridSize();
        long d = features.getShape().get(2);
        int[] best = AnyRes.bestResolution(p.height(), p.width(), config.gridPinpoints());
        int rows = best[0] / config.vision().imageSize();
        int cols = best[1] / config.vision().imageSize();
        NDArray base = features.get(0); // (g², D)
        NDArray grid = features.get("1:, :, :")
                .reshape(rows, cols, g, g, d)
                .transpose(4, 0, 2, 1, 3) // (D, rows, g, cols, g)
                .reshape(d, (long) rows * g, (long) cols * g); // (D, rows·g, cols·g)
        int[] keep = AnyRes.unpadded(p.height(), p.width(), rows * g, cols * g);
        NDArray kept = grid.get(":, {}:{}, {}:{}", keep[0], keep[0] + keep[1], keep[2], keep[2] + keep[3]);
        NDArray newline = projector.newline().reshape(d, 1, 1).broadcast(d, keep[1], 1); // (D, rows', 1)
        NDArray lines = kept.concat(newline, 2) // (D, rows', cols' + 1)
                .reshape(d, (long) keep[1] * (keep[3] + 1))
                .transpose(1, 0); // (rows'·(cols'+1), D)
        return base.concat(lines, 0);
    }
}
