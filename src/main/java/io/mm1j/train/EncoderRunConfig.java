package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.config.VisionConfig;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.SkipReport;
import io.mm1j.encoder.EncoderModel;
import io.mm1j.encoder.TextTransformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The values of an {@code mm1 clip} config ({@code /train/clip-defaults.json}): checks with messages naming the
 * key, and the encoder, text tower and data they describe.
 *
 * <ul>
 *   <li>{@code objective}: {@code clip} (symmetric InfoNCE) or {@code aim} (autoregressive patch regression).</li>
 *   <li>{@code model.preset} + {@code model.vision}: the encoder, as in {@code mm1 pretrain} (the preset's
 *       {@code vision}, with mm1j field overrides), so the encoder fits the MM1 model that will read it.</li>
 *   <li>{@code model.text}: the CLIP text tower; {@code model.projection_dim}: the joint embedding width;
 *       {@code model.aim_head_dim}: AIM's head width.</li>
 *   <li>{@code data.sources}: image-text pairs ({@code coco} or {@code wds}); null: the synthetic world's captions.</li>
 * </ul>
 */
final class EncoderRunConfig {
    /** Formats that hold image-text pairs. */
    static final List<String> PAIR_FORMATS = List.of("coco", "wds", "synthetic");

    private EncoderRunConfig() {}

    static void validate(RunConfig rc) {
        EncoderModel.Objective.of(rc.text("objective"));
        for (String k : List.of("train.steps", "train.batch_size", "train.eval_pairs", "train.keep_checkpoints",
                "model.text.width", "model.text.layers", "model.text.heads", "model.text.mlp_dim",
                "model.text.context", "model.projection_dim", "model.aim_head_dim", "data.synthetic_images")) {
            JsonNode n = rc.node(k);
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 1) {
                throw new Mm1Exception(k + " must be a whole number >= 1, got " + rc.shown(k));
            }
        }
        for (String k : List.of("train.eval_interval", "train.checkpoint_interval", "optim.warmup_steps")) {
            JsonNode n = rc.node(k);
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 0) {
                throw new Mm1Exception(k + " must be a whole number >= 0, got " + rc.shown(k));
            }
        }
        rc.wholeNumber("train.seed");
        if (rc.integer("train.batch_size") < 2) {
            throw new Mm1Exception("train.batch_size must be >= 2: a contrastive batch needs negatives");
        }
        if (rc.integer("train.eval_pairs") < 2) {
            throw new Mm1Exception("train.eval_pairs must be >= 2 (retrieval among one image is no test)");
        }
        if (rc.integer("model.text.context") < 3) {
            throw new Mm1Exception("model.text.context must be >= 3 ([BOS], a token, [EOS]), got "
                    + rc.node("model.text.context"));
        }
        JsonNode lr = rc.node("optim.lr");
        if (!lr.isNumber() || !(lr.asDouble() > 0)) {
            throw new Mm1Exception("optim.lr must be a number > 0, got " + lr);
        }
        for (String k : List.of("optim.weight_decay", "optim.clip_grad_norm")) {
            if (!rc.node(k).isNumber() || rc.data(k) < 0) {
                throw new Mm1Exception(k + " must be a number >= 0, got " + rc.node(k));
            }
        }
        for (String k : List.of("optim.min_lr_ratio", "data.val_fraction")) {
            if (!rc.node(k).isNumber() || rc.data(k) < 0 || rc.data(k) >= 1 && k.startsWith("data")
                    || rc.data(k) > 1) {
                throw new Mm1Exception(k + " must be within [0, 1" + (k.startsWith("data") ? ")" : "]") + ", got "
                        + rc.node(k));
            }
        }
        double b1 = rc.data("optim.beta1");
        double b2 = rc.data("optim.beta2");
        if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) || !(rc.data("optim.eps") > 0)) {
            throw new Mm1Exception("optim.beta1 and optim.beta2 must be within [0, 1), optim.eps > 0");
        }
        JsonNode sources = rc.node("data.sources");
        if (!sources.isNull()) {
            if (!sources.isArray() || sources.isEmpty()) {
                throw new Mm1Exception("data.sources must be null (the synthetic world) or a non-empty list");
            }
            for (int i = 0; i < sources.size(); i++) {
                String fmt = sources.get(i).path("format").asText("");
                if (!PAIR_FORMATS.contains(fmt)) {
                    throw new Mm1Exception("data.sources[" + i + "].format: encoder pre-training reads image-text "
                            + "pairs (" + String.join(", ", PAIR_FORMATS) + "), got '" + fmt + "'");
                }
                if (!fmt.equals("synthetic") && !sources.get(i).path("path").isTextual()) {
                    throw new Mm1Exception("data.sources[" + i + "].path is missing");
                }
            }
        }
        vision(rc);
    }

    /** The encoder: the preset's vision config with {@code model.vision} merged on; the last block's output. */
    static VisionConfig vision(RunConfig rc) {
        Mm1Config preset = Presets.load(rc.text("model.preset"));
        if (preset.vision() == null) {
            throw new Mm1Exception("model.preset '" + rc.text("model.preset") + "' has no image encoder");
        }
        ObjectNode v = Presets.JSON.valueToTree(preset.vision());
        JsonNode over = rc.node("model.vision");
        if (over.isObject()) {
            v.setAll((ObjectNode) over);
        } else if (!over.isNull() && !over.isMissingNode()) {
            throw new Mm1Exception("model.vision must be an object of encoder settings, got " + over);
        }
        v.put("featureLayer", -1); // both objectives train through the last block
        return Presets.bind(v, VisionConfig.class, "model", "vision.", rc.writtenUnder("model.vision"));
    }

    static EncoderModel.Config model(RunConfig rc, VisionConfig vision, int vocab) {
        EncoderModel.Objective objective = EncoderModel.Objective.of(rc.text("objective"));
        TextTransformer.Config text = objective == EncoderModel.Objective.CLIP ? new TextTransformer.Config(vocab,
                rc.integer("model.text.context"), rc.integer("model.text.width"), rc.integer("model.text.layers"),
                rc.integer("model.text.heads"), rc.integer("model.text.mlp_dim"), vision.activation(),
                vision.layerNormEps()) : null;
        return new EncoderModel.Config(objective, vision, text, rc.integer("model.projection_dim"),
                rc.integer("model.aim_head_dim"));
    }

    /** Pair sources: the synthetic world's captions (written once into the run's data/), or the listed datasets. */
    static List<RunData.Source> sources(RunConfig rc, Path runDir, int imageSize) {
        JsonNode list = rc.node("data.sources");
        long seed = rc.integer("train.seed");
        List<RunData.Source> out = new ArrayList<>();
        if (list.isNull()) {
            out.add(synthetic(rc, runDir, imageSize, 1.0));
            return out;
        }
        double valFraction = rc.data("data.val_fraction");
        for (int i = 0; i < list.size(); i++) {
            JsonNode s = list.get(i);
            String fmt = s.get("format").asText();
            double weight = s.has("weight") ? s.get("weight").asDouble() : 1.0;
            if (fmt.equals("synthetic")) {
                out.add(synthetic(rc, runDir, imageSize, weight));
                continue;
            }
            String where = "data.sources[" + i + "]";
            Path path = Path.of(s.get("path").asText());
            Path images = s.has("images") ? Path.of(s.get("images").asText()) : null;
            if (!Files.exists(path)) {
                throw new Mm1Exception(where + ".path: " + path + " not found");
            }
            if (images != null && !Files.isDirectory(images)) {
                throw new Mm1Exception(where + ".images: " + images + " is not a folder");
            }
            var all = RunData.reader(fmt, path, images, where, 0);
            out.add(new RunData.Source(s.has("name") ? s.get("name").asText() : fmt, fmt, weight,
                    () -> RunData.split(all.get(), seed, valFraction, false),
                    () -> RunData.split(all.get(), seed, valFraction, true)));
        }
        return out;
    }

    private static RunData.Source synthetic(RunConfig rc, Path runDir, int imageSize, double weight) {
        Path data = runDir.resolve("data");
        RunData.ensureSynthetic(data, rc.integer("data.synthetic_images"), imageSize, rc.integer("train.seed"));
        return new RunData.Source("captions", "coco", weight,
                () -> new CocoCaptionsReader(data.resolve("coco/captions_train.json"), data.resolve("images/train"),
                        SkipReport.lenient()),
                () -> new CocoCaptionsReader(data.resolve("coco/captions_val.json"), data.resolve("images/val"),
                        SkipReport.lenient()));
    }
}
