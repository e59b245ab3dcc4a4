package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import io.mm1j.vision.Resample;
import io.mm1j.vision.VisionTransformer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * C-Abstractor (Honeybee, arXiv 2312.06742; MM1's chosen connector): convolutions keep the locality of the patch
 * grid while the pooling sets the token count.
 * <pre>
 *   grid (g×g, Dv) → stage1: B × bottleneck → adaptive avg pool to √k×√k → stage2: B × bottleneck
 *   → tokens (k, Dv) in row-major order → fc2(gelu(fc1(·)))   (to the LLM width)
 * </pre>
 *
 * <p>The bottleneck variant (MM1 does not say which one it used; MM1_SPEC.md §1): Honeybee's timm RegNet
 * bottleneck with bottleneck ratio 1 and a depthwise 3×3, LayerNorm over channels after each conv and SiLU, the
 * residual added before the last activation:
 * <pre>
 *   y = silu(norm1(conv1_1x1(x)));  y = silu(norm2(dwconv_3x3(y)));  y = norm3(conv3_1x1(y));  x = silu(x + y)
 * </pre>
 * mm1j leaves out Honeybee's squeeze-and-excitation and its learned input position embedding, and keeps the
 * stages at the encoder width (so no projection shortcut is needed). 1×1 convs are stored in conv layout
 * {@code (out, in, 1, 1)} and applied as matmuls on channels-last maps; only the depthwise conv runs as a conv.
 */
public final class CAbstractor implements VlConnector {
    public static final String FC1 = PREFIX + "readout.fc1.";
    public static final String FC2 = PREFIX + "readout.fc2.";

    private final ConnectorConfig config;
    private final VisionConfig vision;
    private final ParamStore params;
    private final Resample.Cache matrices;
    private final int side;

    public CAbstractor(ConnectorConfig config, VisionConfig vision, ParamStore params) {
        this.config = config;
        this.vision = vision;
        this.params = params;
        this.matrices = new Resample.Cache(params.manager(), params.dtype());
        this.side = (int) Math.round(Math.sqrt(config.imageTokens()));
    }

    static String block(int stage, int i) {
        return PREFIX + "stage" + stage + "." + i + ".";
    }

    static Map<String, Shape> shapes(ConnectorConfig c, VisionConfig v, int llmHidden) {
        long ch = v.width();
        Map<String, Shape> s = new LinkedHashMap<>();
        for (int stage = 1; stage <= 2; stage++) {
            for (int i = 0; i < c.blocksPerStage(); i++) {
                String b = block(stage, i);
                s.put(b + "conv1.weight", new Shape(ch, ch, 1, 1));
                norm(s, b + "norm1.", ch);
                s.put(b + "conv2.weight", new Shape(ch, 1, 3, 3)); // depthwise: one 3×3 filter per channel
                norm(s, b + "norm2.", ch);
                s.put(b + "conv3.weight", new Shape(ch, ch, 1, 1));
                norm(s, b + "norm3.", ch);
            }
        }
        s.put(FC1 + "weight", new Shape(llmHidden, ch));
        s.put(FC1 + "bias", new Shape(llmHidden));
        s.put(FC2 + "weight", new Shape(llmHidden, llmHidden));
        s.put(FC2 + "bias", new Shape(llmHidden));
        return s;
    }

    private static void norm(Map<String, Shape> s, String prefix, long ch) {
        s.put(prefix + "weight", new Shape(ch));
        s.put(prefix + "bias", new Shape(ch));
    }

    /**
     * Without gradient recording every bottleneck, the pooling and the readout each keep only their output
     * ({@link BlockScope}), so the connector holds one block's intermediates at a time.
     */
    @Override
    public NDArray forward(NDArray patchTokens) {
        ConnectorOps.requireWidth(patchTokens, vision.width(), "c-abstractor");
        Shape s = patchTokens.getShape();
        long n = s.get(0);
        long ch = s.get(2);
        int g = ConnectorOps.gridSide(s.get(1), "c-abstractor");
        NDArray grid = patchTokens.reshape(n, g, g, ch); // (N, g, g, C) channels-last
        NDArray x = stage(grid, 1);
        NDArray pooled = BlockScope.run(() -> ConnectorOps.adaptiveAvgPool(matrices, x.transpose(0, 3, 1, 2), side)
                .transpose(0, 2, 3, 1)); // (N, s, s, C)
        free(x, grid);
        NDArray y = stage(pooled, 2); // (N, s, s, C)
        free(pooled, y);
        return BlockScope.run(() -> {
            NDArray tokens = y.reshape(n, (long) side * side, ch); // (N, k, C), row-major grid
            NDArray h = Activation.gelu(ConnectorOps.proj(params, tokens, FC1)); // (N, k, D)
            return ConnectorOps.proj(params, h, FC2); // (N, k, D)
        });
    }

    private NDArray stage(NDArray x, int stage) {
        return BlockScope.chain(x, 0, config.blocksPerStage(), (h, i) -> bottleneck(h, block(stage, i)));
    }

    /** Inference: closes a step's input once the next output exists (never the caller's own array). */
    private static void free(NDArray dead, NDArray keep) {
        if (dead != keep && !BlockScope.recording()) {
            dead.close();
        }
    }

    /** One residual bottleneck on a channels-last map {@code x (N, h, w, C)} → same shape. */
    public NDArray bottleneck(NDArray x, String b) {
        long ch = x.getShape().get(3);
        NDArray y = Ops.silu(norm(conv1x1(x, b + "conv1.weight"), b + "norm1."));
        NDArray cf = y.transpose(0, 3, 1, 2); // (N, C, h, w) for the conv
        NDArray dw = cf.getNDArrayInternal().convolution(cf, params.get(b + "conv2.weight"), null,
                new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), Math.toIntExact(ch)).singletonOrThrow();
        y = Ops.silu(norm(dw.transpose(0, 2, 3, 1), b + "norm2.")); // back to (N, h, w, C)
        y = norm(conv1x1(y, b + "conv3.weight"), b + "norm3.");
        return Ops.silu(x.add(y));
    }

    private NDArray conv1x1(NDArray x, String name) {
        NDArray w = params.get(name);
        return Ops.linear(x, w.reshape(w.getShape().get(0), w.getShape().get(1))); // (out, in, 1, 1) → (out, in)
    }

    private NDArray norm(NDArray x, String prefix) {
        return VisionTransformer.layerNorm(x, params.get(prefix + "weight"), params.get(prefix + "bias"),
                vision.layerNormEps());
    }

    @Override
    public int imageTokens() {
        return config.imageTokens();
    }
}
