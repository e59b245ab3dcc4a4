package io.mm1j.mllm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.mm1j.vision.RgbImage;
import java.util.List;

/**
 * How a model turns pictures into decoder input: its own preprocessing, the number of {@code <image>} positions a
 * picture takes, and the encoding of prepared pictures into that many embeddings. MM1 models take one square crop
 * and k connector tokens per picture; LLaVA-NeXT takes a picture-dependent number of tiles and tokens. Prompt
 * builders (generate, eval, chat) expand each {@code <image>} to {@link Prepared#tokens()} placeholders and hand
 * the prepared pictures to {@link Mm1Model#inputEmbeddings(NDArray, List, int)}.
 */
public interface ImagePipeline {
    /**
     * One picture ready for the encoder.
     *
     * @param pixels (n, 3, S, S) normalised encoder inputs (n = 1, or the tiles of a high-resolution picture)
     * @param height the picture's height in pixels
     * @param width  the picture's width in pixels
     * @param tokens image tokens this picture becomes
     */
    record Prepared(NDArray pixels, int height, int width, int tokens) {}

    /** Preprocesses one picture into {@code manager}. */
    Prepared prepare(RgbImage image, NDManager manager);

    /** Image tokens a {@code height × width} picture becomes (without preprocessing it). */
    int tokens(int height, int width);

    /**
     * Image embeddings of prepared pictures in order, concatenated: (Σ tokens, D).
     */
    NDArray encode(List<Prepared> images);

    /**
     * Encodes single crops the caller preprocessed, one per picture (training batches, {@link Mm1Model#encodeImages}).
     *
     * @param pixels (N, 3, S, S)
     * @return (N, k, D)
     * @throws io.mm1j.Mm1Exception when this model's pictures are not single crops (LLaVA-NeXT's tiles)
     */
    NDArray encodeCrops(NDArray pixels);
}
