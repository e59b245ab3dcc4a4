package io.mm1j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.config.VisionConfig;
import io.mm1j.connector.ConnectorParams;
import io.mm1j.connector.Connectors;
import io.mm1j.connector.VlConnector;
import io.mm1j.nn.MemoryProbe;
import io.mm1j.nn.ParamStore;
import io.mm1j.Mm1Exception;
import io.mm1j.vision.VisionTransformer;
import java.util.Arrays;

/**
 * Image-side inference throughput: images/s of encoder + connector forward (random weights, F32, no gradients) at
 * a preset's resolution, and MFU = achieved FLOP/s ÷ sgemm FLOP/s measured in the same run.
 *
 * <p>FLOPs per image (2 per multiply-add; matmuls only): patch embedding 2·P·3p²·D; per block with T = P + 1
 * tokens 2·T·4D² (q, k, v, o) + 4·T²·D (scores and weighted sum) + 4·T·D·F (MLP); plus
 * {@link ConnectorParams#flopsPerImage}.
 */
public final class VisionBench {
    private VisionBench() {}

    public static double encoderFlopsPerImage(VisionConfig v) {
        return encoderFlopsPerImage(v, v.numPatches());
    }

    /** Encoder FLOPs per image of {@code patches} patch tokens (a non-native resolution). */
    public static double encoderFlopsPerImage(VisionConfig v, int patches) {
        double p = patches;
        double t = p + 1;
        double d = v.width();
        double block = 2 * t * 4 * d * d + 4 * t * t * d + 4 * t * d * v.mlpDim();
        int layers = v.featureLayer() < 0 ? v.layers() + 1 + v.featureLayer() : v.featureLayer();
        return 2 * p * 3 * v.patchSize() * v.patchSize() * d + layers * block;
    }

    public static ObjectNode run(NDManager root, Mm1Config cfg, String preset, int batch, int reps) {
        return run(root, cfg, preset, batch, reps, 0, 2);
    }

    /**
     * @param imageSize input side in pixels (a multiple of the patch size; the position embeddings are
     *                  interpolated, as for MM1's 672 px high-resolution tiles), or 0 for the preset's resolution
     * @param warmup    untimed forwards first (0 for a memory-only run: the peak is reached by the first forward)
     */
    public static ObjectNode run(NDManager root, Mm1Config cfg, String preset, int batch, int reps, int imageSize,
                                 int warmup) {
        if (!cfg.isMultimodal()) {
            throw new Mm1Exception("preset " + preset + " has no vision encoder");
        }
        if (batch < 1 || reps < 1 || warmup < 0) {
            throw new Mm1Exception("--batch and --reps must be positive and --warmup not negative");
        }
        VisionConfig v = cfg.vision();
        int size = imageSize == 0 ? v.imageSize() : imageSize;
        if (size < 0 || size % v.patchSize() != 0) {
            throw new Mm1Exception("--image-size must be a positive multiple of the patch size " + v.patchSize()
                    + ", got " + imageSize);
        }
        int patches = (size / v.patchSize()) * (size / v.patchSize());
        ConnectorConfig c = cfg.connector();
        int llm = cfg.llm().hiddenSize();
        double gemm = GemmBench.gflops(root, 2048, 5);
        double[] secs = new double[reps];
        long peakNd;
        try (ParamStore p = new ParamStore(root, DataType.FLOAT32);
             MemoryProbe probe = new MemoryProbe(root)) {
            VisionTransformer vit = VisionTransformer.init(v, p);
            VlConnector connector = Connectors.init(c, v, llm, p);
            NDArray pixels = p.manager().randomNormal(new Shape(batch, 3, size, size));
            for (int r = -warmup; r < reps; r++) {
                long t0 = System.nanoTime();
                try (NDScope scope = new NDScope()) {
                    NDArray tokens = io.mm1j.mllm.Mm1Model.inGroups(pixels, vit.inferenceGroup(pixels),
                            px -> io.mm1j.mllm.Mm1Model.encode(vit, connector, px)); // the model's inference path
                    tokens.sum().getFloat(); // force completion
                    scope.suppressNotUsedWarning();
                }
                if (r >= 0) {
                    secs[r] = (System.nanoTime() - t0) / 1e9;
                }
            }
            peakNd = probe.peakBytes();
        }
        Arrays.sort(secs);
        double sec = secs[reps / 2];
        double flops = encoderFlopsPerImage(v, patches) + ConnectorParams.flopsPerImage(c, v, llm, patches);
        double gflops = flops * batch / sec / 1e9;
        ObjectNode o = Bench.report("vision");
        o.put("preset", preset);
        o.put("imageSize", size);
        o.put("patches", patches);
        o.put("connector", c.type().json());
        o.put("imageTokens", c.imageTokens());
        o.put("batch", batch);
        o.put("warmup", warmup);
        o.put("paramsVision", ParamCount.vision(v));
        o.put("paramsConnector", ParamCount.connector(c, v, llm));
        o.put("gflopPerImage", flops / 1e9);
        o.put("secondsPerBatch", sec);
        o.put("imagesPerSecond", batch / sec);
        o.put("gflops", gflops);
        o.put("gemmGflops", gemm);
        o.put("mfu", gflops / gemm);
        // NDArray bytes alive at the fullest moment of a forward (weights included), sampled at every block end
        o.put("peakNdArrayBytes", peakNd);
        return PeakRss.addTo(o);
    }
}
