package io.mm1j.connector;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.Ops;
import io.mm1j.nn.LayerNorm;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.Resample;
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
 * With {@link ConnectorConfig#squeezeExcitation()} (default) each bottleneck carries Honeybee's timm
 * squeeze-and-excitation between the depthwise conv and conv3 ({@code y = y · sigmoid(fc2(relu(fc1(mean_hw(y)))))},
 * 1×1 convs with bias, rd = round(0.25·C)); with {@link ConnectorConfig#positionEmbedding()} (default) a learned
 * {@code pos_emb (1, P, C)} is added to the patch tokens before stage 1, as Honeybee does. Both switch off for the
 * plain layout older mm1j models were saved with. The stages stay at the encoder width (so no projection shortcut
 * is needed). Convs are stored in torch's layout
 * ({@code (out, in, 1, 1)}, depthwise {@code (C, 1, 3, 3)}) and applied to channels-last maps: the 1×1 convs as
 * matmuls, the depthwise 3×3 as nine shifted multiply-adds.
 */
public final class CAbstractor implements VlConnector {
    public static final String FC1 = PREFIX + "readout.fc1.";
    public static final String FC2 = PREFIX + "readout.fc2.";
    /** Honeybee's learned position embedding of the patch grid, {@code (1, P, C)}. */
    public static final String POS_EMB = PREFIX + "pos_emb";

    private final ConnectorConfig config;
    private final VisionConfig vision;
    private final ParamStore params;
    private final GridPool pool;

    public CAbstractor(ConnectorConfig config, VisionConfig vision, ParamStore params) {
        this.config = config;
        this.vision = vision;
        this.params = params;
        this.pool = new GridPool(params, config.imageTokens());
    }

    static String block(int stage, int i) {
        return PREFIX + "stage" + stage + "." + i + ".";
    }

    static Map<String, Shape> shapes(ConnectorConfig c, VisionConfig v, int llmHidden) {
        long ch = v.width();
        Map<String, Shape> s = new LinkedHashMap<>();
        if (c.posEmb()) {
            s.put(POS_EMB, new Shape(1, v.numPatches(), ch));
        }
        long rd = ConnectorConfig.seChannels(ch);
        for (int stage = 1; stage <= 2; stage++) {
            for (int i = 0; i < c.blocksPerStage(); i++) {
                String b = block(stage, i);
                s.put(b + "conv1.weight", new Shape(ch, ch, 1, 1));
                norm(s, b + "norm1.", ch);
                s.put(b + "conv2.weight", new Shape(ch, 1, 3, 3)); // depthwise: one 3×3 filter per channel
                norm(s, b + "norm2.", ch);
                if (c.se()) {
                    s.put(b + "se.fc1.weight", new Shape(rd, ch, 1, 1));
                    s.put(b + "se.fc1.bias", new Shape(rd));
                    s.put(b + "se.fc2.weight", new Shape(ch, rd, 1, 1));
                    s.put(b + "se.fc2.bias", new Shape(ch));
                }
                s.put(b + "conv3.weight", new Shape(ch, ch, 1, 1));
                norm(s, b + "norm3.", ch);
            }
        }
        ConnectorOps.linearShapes(s, FC1, llmHidden, ch);
        ConnectorOps.linearShapes(s, FC2, llmHidden, llmHidden);
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
        NDArray in = patchTokens;
        if (config.posEmb()) {
            NDArray pos = params.get(POS_EMB); // (1, P, C)
            if (pos.getShape().get(1) != s.get(1)) {
                throw new io.mm1j.Mm1Exception("c-abstractor connector: its position embedding covers "
                        + pos.getShape().get(1) + " patch tokens, got " + s.get(1));
            }
            in = patchTokens.add(pos);
        }
        NDArray grid = in.reshape(n, g, g, ch); // (N, g, g, C) channels-last
        NDArray x = stage(grid, 1);
        NDArray pooled = BlockScope.run(() -> pool.apply(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)); // (N, s, s, C)
        free(x, grid);
        NDArray y = stage(pooled, 2); // (N, s, s, C)
        free(pooled, y);
        return BlockScope.run(() -> {
            NDArray tokens = y.reshape(n, config.imageTokens(), ch); // (N, k, C), row-major grid
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
        NDArray y = Ops.silu(norm(conv1x1(x, b + "conv1.weight"), b + "norm1."));
        y = Ops.silu(norm(depthwise3x3(y, params.get(b + "conv2.weight")), b + "norm2."));
        if (config.se()) {
            y = squeezeExcite(y, b + "se.");
        }
        y = norm(conv1x1(y, b + "conv3.weight"), b + "norm3.");
        return Ops.silu(x.add(y));
    }

    /**
     * timm's SEModule on a channels-last map {@code y (N, h, w, C)}: the channel means go through a 1×1 conv
     * (C → rd), ReLU, a 1×1 conv (rd → C) and a sigmoid, which then scales each channel.
     */
    NDArray squeezeExcite(NDArray y, String se) {
        Shape ys = y.getShape();
        NDArray squeezed = y.reshape(ys.get(0), ys.get(1) * ys.get(2), ys.get(3)).mean(new int[] {1}); // (N, C)
        NDArray w1 = params.get(se + "fc1.weight");
        NDArray w2 = params.get(se + "fc2.weight");
        NDArray h = Activation.relu(Ops.linear(squeezed, w1.reshape(w1.getShape().get(0), w1.getShape().get(1)),
                params.get(se + "fc1.bias"))); // (N, rd)
        NDArray gate = Activation.sigmoid(Ops.linear(h, w2.reshape(w2.getShape().get(0), w2.getShape().get(1)),
                params.get(se + "fc2.bias"))); // (N, C)
        Shape s = gate.getShape();
        return y.mul(gate.reshape(s.get(0), 1, 1, s.get(1)));
    }

    /**
     * Depthwise 3×3 convolution, stride 1, zero padding 1 (torch {@code conv2d(x, w, padding=1, groups=C)}) on a
     * channels-last map {@code x (N, h, w, C)} with {@code w (C, 1, 3, 3)}: nine shifted copies of the padded map,
     * each scaled by its per-channel tap and summed. Written out rather than calling libtorch's convolution, whose
     * CPU backend selection asks NNPACK on every call and logs "Could not initialize NNPACK" each time on CPUs
     * NNPACK does not support; it also keeps the map channels-last.
     */
    static NDArray depthwise3x3(NDArray x, NDArray w) {
        Shape s = x.getShape();
        long h = s.get(1);
        long wd = s.get(2);
        NDArray padded = x.pad(new Shape(0, 0, 1, 1, 1, 1), 0); // (N, h+2, w+2, C); pairs from the last axis
        NDArray y = null;
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                NDArray tap = w.get(new NDIndex(":, 0, {}, {}", a, b)); // (C), broadcast over N, h, w
                NDArray shifted = padded.get(new NDIndex(":, {}:{}, {}:{}, :", a, a + h, b, b + wd)); // (N, h, w, C)
                NDArray term = shifted.mul(tap);
                y = y == null ? term : y.add(term);
            }
        }
        return y;
    }

    private NDArray conv1x1(NDArray x, String name) {
        NDArray w = params.get(name);
        return Ops.linear(x, w.reshape(w.getShape().get(0), w.getShape().get(1))); // (out, in, 1, 1) → (out, in)
    }

    private NDArray norm(NDArray x, String prefix) {
        return LayerNorm.apply(x, params.get(prefix + "weight"), params.get(prefix + "bias"),
                vision.layerNormEps());
    }

    @Override
    public int imageTokens() {
        return config.imageTokens();
    }
}
