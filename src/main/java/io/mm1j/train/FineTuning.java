package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.HighResConfig;
import io.mm1j.io.OutputDir;
import io.mm1j.mllm.ChatTemplate;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.ParamStore;
import io.mm1j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fine-tuning settings of a run (MM1 §3.4, used by {@code mm1 sft} and available to any run): the optimiser
 * ({@code optim.name}: AdamW or AdaFactor), LoRA adapters ({@code lora}), high-resolution tiling
 * ({@code model.high_res}) and the chat template conversations are laid out with ({@code sft.template}). The
 * {@link Pretrainer} calls these at fixed points, so SFT shares its run folder, checkpoints, resume and reports.
 */
public final class FineTuning {
    /** Files that carry a model folder's chat template (Hugging Face's places). */
    static final List<String> TEMPLATE_FILES = List.of("tokenizer_config.json", "chat_template.jinja",
            "chat_template.json");

    private FineTuning() {}

    /** {@code model.high_res}: null keeps the model as it is; false turns tiling off; true turns it on. */
    public static Mm1Model highRes(RunConfig rc, Mm1Model model) {
        JsonNode hr = rc.node("model.high_res");
        JsonNode en = hr.path("enabled");
        if (en.isNull() || en.isMissingNode()) {
            return model;
        }
        if (!model.isMultimodal()) {
            throw new Mm1Exception("model.high_res: model '" + model.config().name() + "' has no image encoder");
        }
        if (en.asBoolean() && io.mm1j.llava.Llava.images(model) != null) {
            // its image path (feature layer and strategy, projector, preprocessing, NeXT's own tiling) is the
            // folder's; MM1's sub-image tiling would rebuild it as an mm1j model that no LLaVA folder describes
            throw new Mm1Exception("model.high_res: model '" + model.config().name() + "' was loaded from a LLaVA "
                    + "folder, which keeps its own image pipeline (LLaVA-NeXT tiles pictures itself); high-resolution "
                    + "tiling (--high-res) is for mm1j models");
        }
        int size = model.config().vision().imageSize();
        if (!en.asBoolean()) {
            return model.config().highRes() == null ? model : model.withHighRes(null, size);
        }
        int crop = hr.path("crop").isNumber() ? hr.path("crop").asInt() : size;
        int patch = model.config().vision().patchSize();
        if (crop % patch != 0) {
            throw new Mm1Exception("model.high_res.crop (" + crop + ") must be a multiple of the encoder's patch size ("
                    + patch + ")");
        }
        return model.withHighRes(new HighResConfig(hr.path("rows").asInt(), hr.path("cols").asInt(),
                hr.path("overview").asBoolean()), crop);
    }

    /** Attaches LoRA ({@code lora.rank} &gt; 0): the checkpoint's adapter when resuming, else fresh adapters. */
    public static Lora lora(RunConfig rc, Mm1Model model, Path ckpt) {
        Lora.Config c = Lora.Config.of(rc.node("lora"));
        if (c == null) {
            return null;
        }
        if (ckpt != null && Files.isDirectory(ckpt.resolve("adapter"))) {
            Lora l = Lora.load(model, ckpt.resolve("adapter"));
            Checkpoint.checkFinite(model.params().all(), ckpt.resolve("adapter"), l::owns);
            return l;
        }
        return Lora.attach(model, c);
    }

    /**
     * {@code train.freeze}: each named component gets no gradient and no update — and so do the LoRA adapters on its
     * layers: freezing a module keeps its output as it is, and an adapter is part of the module's output.
     */
    static void freeze(RunConfig rc, Mm1Model model) {
        for (JsonNode f : rc.node("train.freeze")) {
            Mm1Model.Component c = Pretrainer.component(f.asText());
            model.freeze(c);
            model.params().freeze(Lora.PEFT_PREFIX + c.prefix()); // its adapters: base_model.model.<module>.lora_*
        }
    }

    /**
     * {@code train.lr_multipliers}: a component's factor scales the learning rate of its parameters and of the LoRA
     * adapters on its layers (under LoRA only the adapters train, so this is how a component's rate is set).
     */
    static void lrMultipliers(RunConfig rc, Optimizer opt) {
        rc.node("train.lr_multipliers").fields().forEachRemaining(e -> {
            String prefix = Pretrainer.component(e.getKey()).prefix();
            opt.scaleLr(prefix, e.getValue().asDouble());
            opt.scaleLr(Lora.PEFT_PREFIX + prefix, e.getValue().asDouble());
        });
    }

    /** {@code optim.name}: AdamW (β₁, β₂, ε of {@code optim}) or AdaFactor ({@code optim.adafactor}). */
    public static Optimizer optimizer(RunConfig rc, ParamStore params) {
        if (rc.text("optim.name").equals("adafactor")) {
            JsonNode a = rc.node("optim.adafactor");
            return new AdaFactor(params, new AdaFactor.Settings(a.path("decay_rate").asDouble(),
                    a.path("eps1").asDouble(), a.path("clip_threshold").asDouble(), a.path("beta1").asDouble()));
        }
        return new AdamW(params, rc.data("optim.beta1"), rc.data("optim.beta2"), rc.data("optim.eps"));
    }

    /**
     * The chat template conversations are laid out with: {@code sft.template} (a model folder or a Jinja file),
     * else the {@code --init} model's, else mm1j's default.
     */
    public static ChatTemplate template(RunConfig rc, Path init, Tokenizer tok) {
        Path dir = templateSource(rc, init);
        if (dir == null) {
            return ChatTemplate.mm1j(tok);
        }
        if (Files.isRegularFile(dir)) {
            try {
                return ChatTemplate.of(Files.readString(dir), dir.toString(), io.mm1j.tokenizer.SpecialTokens.BOS,
                        io.mm1j.tokenizer.SpecialTokens.EOS, tok);
            } catch (IOException e) {
                throw new Mm1Exception("sft.template: cannot read " + dir + ": " + e.getMessage(), e);
            }
        }
        return ChatTemplate.forModel(dir, tok);
    }

    private static Path templateSource(RunConfig rc, Path init) {
        String t = rc.text("sft.template");
        if (t != null) {
            Path p = Path.of(t);
            if (!Files.exists(p)) {
                throw new Mm1Exception("sft.template: " + p + " not found (a model folder or a Jinja template file)");
            }
            return p;
        }
        if (init == null) {
            return null;
        }
        return Files.isDirectory(init.resolve("model")) ? init.resolve("model") : init;
    }

    /** Copies the template's files into a model folder being written, so the fine-tuned model keeps its layout. */
    static void copyChatTemplate(RunConfig rc, Path init, Path modelDir) throws IOException {
        Path src = templateSource(rc, init);
        if (src == null) {
            return;
        }
        if (Files.isRegularFile(src)) {
            Files.copy(src, modelDir.resolve("chat_template.jinja"));
            return;
        }
        for (String f : TEMPLATE_FILES) {
            if (Files.isRegularFile(src.resolve(f)) && !Files.exists(modelDir.resolve(f))) {
                Files.copy(src.resolve(f), modelDir.resolve(f));
            }
        }
    }

    /** Writes {@code runs/NAME/adapter/} (PEFT layout), staged and renamed. */
    static void writeAdapter(Path dir, Lora lora, Path init) {
        try (OutputDir out = OutputDir.create(dir, true, "adapter")) {
            lora.save(out.staging(), init == null ? "" : init.toString());
            out.commit();
        }
    }

    /** One line for the progress header: trainable parameters and optimiser memory. */
    static String describe(Mm1Model model, Optimizer opt) {
        String what = model.params().adapter() instanceof Lora l ? l.describe() + (l.parameterCount()
                == opt.trainableParameters() ? "" : String.format(Locale.ROOT, ", of which %,d trained (train.freeze "
                + "freezes the others)", opt.trainableParameters())) + ", "
                : String.format(Locale.ROOT, "%,d trainable parameters, ", opt.trainableParameters());
        return what + String.format(Locale.ROOT, "%s state %s (full fine-tuning: %s)", name(opt),
                mb(opt.stateBytes()), mb(fullStateBytes(opt, model.params())));
    }

    /** Adds the optimiser, trainable parameters, optimiser memory, LoRA and high-res settings to summary.json. */
    static void summary(ObjectNode s, Mm1Model model, Optimizer opt, RunConfig rc) {
        s.put("optimizer", name(opt));
        s.put("trainableParameters", opt.trainableParameters());
        s.put("optimizerStateBytes", opt.stateBytes());
        s.put("fullFineTuningOptimizerStateBytes", fullStateBytes(opt, model.params()));
        if (model.params().adapter() instanceof Lora l) {
            ObjectNode o = l.config().toJson();
            o.put("layers", l.modules().size());
            o.put("parameters", l.parameterCount());
            s.set("lora", o);
        }
        if (model.config().highRes() != null) {
            ObjectNode h = RunConfig.JSON.valueToTree(model.config().highRes());
            h.put("crop", model.config().vision().imageSize());
            h.put("imageTokensPerPicture", model.imageTokens());
            s.set("highRes", h);
        }
    }

    static String name(Optimizer opt) {
        return opt instanceof AdaFactor ? "AdaFactor" : "AdamW";
    }

    /**
     * Optimiser state the same optimiser would hold for every base parameter (full fine-tuning): AdamW two moments
     * per value; AdaFactor n + m statistics per n×m matrix (per last-two-axes slice) and one per vector value.
     */
    static long fullStateBytes(Optimizer opt, ParamStore params) {
        long values = 0;
        for (Map.Entry<String, NDArray> e : params.all().entrySet()) {
            if (params.adapter() != null && params.adapter().owns(e.getKey())) {
                continue;
            }
            Shape s = e.getValue().getShape();
            long n = s.size();
            if (opt instanceof AdaFactor) {
                values += s.dimension() >= 2 ? n / s.get(s.dimension() - 1) + n / s.get(s.dimension() - 2) : n;
            } else {
                values += 2 * n;
            }
        }
        return values * 4;
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.2f MB", bytes / 1e6);
    }
}
