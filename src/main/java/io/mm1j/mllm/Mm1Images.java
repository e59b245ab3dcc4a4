package io.mm1j.mllm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import io.mm1j.vision.ImagePreprocessor;
import io.mm1j.vision.RgbImage;
import java.util.List;

/** MM1's image path as an {@link ImagePipeline}: CLIP preprocessing at the encoder's resolution, k tokens each. */
final class Mm1Images implements ImagePipeline {
    private final Mm1Model model;

    Mm1Images(Mm1Model model) {
        this.model = model;
    }

    @Override
    public Prepared prepare(RgbImage image, NDManager manager) {
        NDArray pixels = new ImagePreprocessor(manager, model.config().vision().imageSize()).preprocess(image);
        return new Prepared(pixels.expandDims(0), image.height(), image.width(), model.imageTokens()); // (1, 3, S, S)
    }

    @Override
    public int tokens(int height, int width) {
        return model.imageTokens();
    }

    @Override
    public NDArray encode(List<Prepared> images) {
        NDList all = new NDList();
        images.forEach(p -> all.add(p.pixels()));
        NDArray tokens = model.encodeImages(NDArrays.concat(all, 0)); // (N, k, D)
        return tokens.reshape(-1, tokens.getShape().get(2)); // (N·k, D)
    }

    @Override
    public NDArray encodeCrops(NDArray pixels) {
        return model.encodeImages(pixels); // MM1: the encoder and the connector
    }
}
