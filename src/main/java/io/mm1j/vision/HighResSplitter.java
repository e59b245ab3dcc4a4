package io.mm1j.vision;

import ai.djl.ndarray.NDArray;
import io.mm1j.Mm1Exception;

/**
 * MM1's high-resolution SFT input (MM1_SPEC.md §3): an image is covered by a rows × cols grid of sub-images of
 * the encoder's resolution plus one overview of the whole image at that resolution; each goes through the encoder
 * and connector separately (MM1: 2×2 tiles of 672 px + 1 overview = 5 × 144 = 720 image tokens, the encoder's
 * position embeddings interpolated to 672 px).
 *
 * <p>Order, fixed and relied on by the splicing code: the sub-images in row-major order (top-left, top-right,
 * …, bottom-right), then the overview last. The grid region is the image cover-resized to
 * (rows·tile) × (cols·tile) and center-cropped (PIL bicubic, as {@link ImagePreprocessor}); the overview is the
 * standard CLIP preprocessing at {@code tile} (shorter side resized, center crop). For a square grid both show the
 * same central square of the picture, so the overview is a low-resolution copy of what the tiles cover.
 *
 * @param rows     tile rows (MM1: 2)
 * @param cols     tile columns (MM1: 2)
 * @param tile     sub-image side in pixels, the encoder's input resolution (MM1: 672)
 * @param overview whether the overview image is appended (MM1: yes)
 */
public record HighResSplitter(int rows, int cols, int tile, boolean overview) {
    public HighResSplitter {
        if (rows < 1 || cols < 1 || tile < 1) {
            throw new Mm1Exception("high-res grid must have positive rows, cols and tile size, got " + rows + "x"
                    + cols + " tiles of " + tile);
        }
    }

    /** MM1's setting: 2×2 sub-images of 672 px (up to 1344×1344 input) and an overview. */
    public static HighResSplitter mm1() {
        return new HighResSplitter(2, 2, 672, true);
    }

    /** Images per input picture: rows·cols (+1 for the overview). */
    public int imagesPerPicture() {
        return rows * cols + (overview ? 1 : 0);
    }

    /**
     * @param pre the preprocessor whose manager receives the tensors (its own size is not used)
     * @return {@code (rows·cols [+1], 3, tile, tile)}: row-major sub-images, then the overview
     */
    public NDArray split(ImagePreprocessor pre, RgbImage img) {
        NDArray grid = pre.resizeCropNormalise(img, rows * tile, cols * tile); // (3, R·T, C·T)
        NDArray tiles = grid.reshape(3, rows, tile, cols, tile)
                .transpose(1, 3, 0, 2, 4) // (R, C, 3, T, T)
                .reshape((long) rows * cols, 3, tile, tile); // (R·C, 3, T, T), row-major
        if (!overview) {
            return tiles;
        }
        NDArray whole = pre.resizeCropNormalise(img, tile, tile).expandDims(0); // (1, 3, T, T)
        return tiles.concat(whole, 0); // (R·C + 1, 3, T, T)
    }
}
