package io.mm1j.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.Presets;
import io.mm1j.config.VisionConfig;
import io.mm1j.io.AtomicFiles;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.ShapeInit;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tensor.WeightFiles;
import io.mm1j.vision.VisionTransformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code mm1 clip} trains: the ViT image encoder MM1 later reads ({@link VisionTransformer}) plus what its
 * pre-training objective needs on top, all in one {@link ParamStore} under Hugging Face {@code CLIPModel} names:
 * <ul>
 *   <li>{@link Objective#CLIP}: the text tower ({@link TextTransformer}, {@code text_model.*}), the projections
 *       {@code visual_projection.weight (E, Dv)} and {@code text_projection.weight (E, Dt)} (no bias, as CLIP) and
 *       the learned log temperature {@code logit_scale} (a scalar);</li>
 *   <li>{@link Objective#AIM}: the prediction head ({@code aim_head.*}, {@link AimObjective}).</li>
 * </ul>
 * Only the encoder leaves the run ({@link ClipVisionFolder}); the rest is pre-training scaffolding.
 */
public final class EncoderModel implements AutoCloseable {
    public static final String VISUAL_PROJECTION = "visual_projection.weight";
    public static final String TEXT_PROJECTION = "text_projection.weight";
    public static final String LOGIT_SCALE = "logit_scale";

    /** MM1 §3.1 compares the contrastive and the reconstructive encoder objective. */
    public enum Objective {
        CLIP, AIM;

        public static Objective of(String s) {
            return switch (s == null ? "" : s.toLowerCase(Locale.ROOT)) {
                case "clip", "contrastive" -> CLIP;
                case "aim" -> AIM;
                default -> throw new Mm1Exception("objective must be \"clip\" (contrastive) or \"aim\" "
                        + "(autoregressive patch regression), got " + s);
            };
        }

        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * @param vision        the image encoder (its featureLayer is ignored: both objectives read the last block)
     * @param text          the text tower (CLIP only, else null)
     * @param projectionDim the joint embedding width E (CLIP)
     * @param aimHidden     the AIM head's hidden width
     */
    public record Config(Objective objective, VisionConfig vision, TextTransformer.Config text, int projectionDim,
                         int aimHidden) {
        public Config {
            if (objective == Objective.CLIP && (text == null || projectionDim < 1)) {
                throw new Mm1Exception("the contrastive objective needs a text tower and model.projection_dim >= 1");
            }
            if (objective == Objective.AIM && aimHidden < 1) {
                throw new Mm1Exception("model.aim_head_dim must be >= 1, got " + aimHidden);
            }
        }
    }

    private final Config config;
    private final ParamStore params;
    private final VisionTransformer vision;
    private final TextTransformer text;
    private final AimObjective aim;

    private EncoderModel(Config config, ParamStore params) {
        this.config = config;
        this.params = params;
        this.vision = new VisionTransformer(config.vision(), params);
        this.text = config.objective() == Objective.CLIP ? new TextTransformer(config.text(), params) : null;
        this.aim = config.objective() == Objective.AIM ? new AimObjective(vision) : null;
    }

    /** Every tensor of the model, name → shape. */
    public static Map<String, Shape> expectedShapes(Config c) {
        Map<String, Shape> s = new LinkedHashMap<>(VisionTransformer.expectedShapes(c.vision()));
        if (c.objective() == Objective.CLIP) {
            s.putAll(TextTransformer.expectedShapes(c.text()));
            s.put(VISUAL_PROJECTION, new Shape(c.projectionDim(), c.vision().width()));
            s.put(TEXT_PROJECTION, new Shape(c.projectionDim(), c.text().width()));
            s.put(LOGIT_SCALE, new Shape());
        } else {
            s.putAll(AimObjective.headShapes(c.vision().width(), c.vision().patchSize(), c.aimHidden()));
        }
        return s;
    }

    /**
     * CLIP's initialisation (OpenAI CLIP {@code initialize_parameters}, HF {@code CLIPPreTrainedModel._init_weights}):
     * embeddings N(0, 0.02), the class embedding N(0, d^-½); in each block q/k/v and fc2 N(0, d^-½·(2L)^-½),
     * out_proj N(0, d^-½), fc1 N(0, (2d)^-½); projections N(0, width^-½); LayerNorm gains 1, biases 0; temperature
     * 0.07. (A flat 0.02 leaves a small tower's CLS almost blind to the image at the start — its attention
     * output is ~1% of the residual — and the contrastive loss then collapses to log N before it learns.)
     */
    public static EncoderModel init(Config c, NDManager manager) {
        ParamStore p = new ParamStore(manager, DataType.FLOAT32);
        ShapeInit.init(p, expectedShapes(c), 0.02);
        for (Map.Entry<String, Shape> e : expectedShapes(c).entrySet()) {
            double std = clipStd(c, e.getKey());
            if (std > 0) {
                p.normal(e.getKey(), e.getValue(), std);
            }
        }
        if (c.objective() == Objective.CLIP) {
            p.put(LOGIT_SCALE, p.manager().create((float) ContrastiveLoss.INIT_LOG_SCALE));
        }
        return new EncoderModel(c, p);
    }

    /** CLIP's init std of a weight, or 0 where the flat N(0, 0.02) / ones / zeros stand. */
    static double clipStd(Config c, String name) {
        if (!name.endsWith(".weight") && !name.equals(VisionTransformer.CLS)) {
            return 0;
        }
        boolean text = name.startsWith(TextTransformer.PREFIX);
        int d = text ? c.text().width() : c.vision().width();
        int layers = text ? c.text().layers() : c.vision().layers();
        double inProj = Math.pow(d, -0.5) * Math.pow(2.0 * layers, -0.5);
        if (name.equals(VisionTransformer.CLS)) {
            return Math.pow(d, -0.5);
        } else if (name.endsWith("self_attn.out_proj.weight")) {
            return Math.pow(d, -0.5);
        } else if (name.contains("self_attn.") || name.endsWith("mlp.fc2.weight")) {
            return inProj;
        } else if (name.endsWith("mlp.fc1.weight")) {
            return Math.pow(2.0 * d, -0.5);
        } else if (name.equals(VISUAL_PROJECTION)) {
            return Math.pow(c.vision().width(), -0.5);
        } else if (name.equals(TEXT_PROJECTION)) {
            return Math.pow(c.text().width(), -0.5);
        } else if (name.startsWith(AimObjective.HEAD)) {
            return Math.pow(name.endsWith("fc1.weight") ? c.vision().width() : c.aimHidden(), -0.5);
        }
        return 0;
    }

    /** Random init, then every tensor replaced by the one of {@code dir}/model.safetensors (shapes checked). */
    public static EncoderModel load(Config c, NDManager manager, Path dir) {
        EncoderModel m = init(c, manager);
        try (WeightFiles w = WeightFiles.open(dir)) {
            for (Map.Entry<String, Shape> e : expectedShapes(c).entrySet()) {
                m.params.put(e.getKey(), w.load(m.params.manager(), e.getKey(), e.getValue()));
            }
            List<String> extra = w.unused();
            if (!extra.isEmpty()) {
                throw new Mm1Exception(dir + ": tensors this model does not have, e.g. '" + extra.get(0) + "' ("
                        + extra.size() + " in all): the checkpoint was made with another model config");
            }
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    public Config config() {
        return config;
    }

    public ParamStore params() {
        return params;
    }

    public VisionTransformer vision() {
        return vision;
    }

    /** Image embeddings (N, E): {@code visual_projection(post_layernorm(CLS))} (CLIPModel.get_image_features). */
    public NDArray imageEmbeddings(NDArray pixels) {
        return Ops.linear(vision.forward(pixels).cls(), params.get(VISUAL_PROJECTION));
    }

    /** Text embeddings (N, E): {@code text_projection(pooled [EOS])} (CLIPModel.get_text_features). */
    public NDArray textEmbeddings(NDArray ids, NDArray eos) {
        return Ops.linear(text.forward(ids, eos), params.get(TEXT_PROJECTION));
    }

    /** Symmetric InfoNCE of N matched pairs ({@link ContrastiveLoss}). */
    public ContrastiveLoss.Output contrastive(NDArray pixels, NDArray ids, NDArray eos) {
        return ContrastiveLoss.apply(imageEmbeddings(pixels), textEmbeddings(ids, eos), params.get(LOGIT_SCALE));
    }

    /** AIM's next-patch regression loss ({@link AimObjective#loss}). */
    public NDArray aimLoss(NDArray pixels, int[] prefix) {
        return aim.loss(pixels, prefix);
    }

    /** The learned logit scale exp(t) (CLIP only). */
    public double logitScale() {
        return Math.exp(params.get(LOGIT_SCALE).toType(DataType.FLOAT64, false).getDouble());
    }

    /** Clips the log logit scale to [0, log 100] after an optimizer step (CLIP §2.5; OpenCLIP's clamp). */
    public void clampLogitScale() {
        if (config.objective() != Objective.CLIP) {
            return;
        }
        NDArray t = params.get(LOGIT_SCALE);
        double v = t.toType(DataType.FLOAT64, false).getDouble();
        double clipped = Math.max(0, Math.min(ContrastiveLoss.MAX_LOG_SCALE, v));
        if (clipped != v) {
            t.subi(t).addi(clipped);
            params.touch();
        }
    }

    /** A checkpoint model folder: {@code model.safetensors} (every tensor) and {@code config.json}. */
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Mm1Exception(dir + ": cannot create folder: " + e.getMessage(), e);
        }
        SafeTensorsWriter out = new SafeTensorsWriter().metadata("format", "pt")
                .metadata("mm1j.objective", config.objective().json());
        params.all().forEach((name, a) -> out.add(SafeTensorsWriter.Tensor.f32(name, a.getShape().getShape(),
                a.toType(DataType.FLOAT32, false).toFloatArray())));
        out.write(dir.resolve("model.safetensors"));
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("objective", config.objective().json());
        c.set("vision", Presets.JSON.valueToTree(config.vision()));
        if (config.text() != null) {
            c.set("text", Presets.JSON.valueToTree(config.text()));
            c.put("projectionDim", config.projectionDim());
        } else {
            c.put("aimHidden", config.aimHidden());
        }
        AtomicFiles.writeString(dir.resolve("config.json"), c.toPrettyString());
    }

    /** The image encoder alone as a Hugging Face {@code CLIPVisionModel} folder ({@link ClipVisionFolder}). */
    public void exportEncoder(Path dir) {
        ClipVisionFolder.write(dir, config.vision(), params, config.objective());
    }

    @Override
    public void close() {
        params.close();
    }
}
