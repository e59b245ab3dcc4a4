package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.Presets;
import io.mm1j.config.VisionConfig;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.JsonFiles;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.WeightFiles;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.VisionTransformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Starting a run from pretrained parts, as MM1 does (MM1 §3: a pretrained LLM and a CLIP-pretrained image encoder;
 * the connector starts fresh):
 * <ul>
 * <li>{@code model.llm.init}: a Hugging Face Llama / Mistral folder ({@code config.json}, {@code tokenizer.json},
 *     {@code model.safetensors}). Its shapes become the run's LLM; its tokenizer becomes the run's, with mm1j's
 *     roles mapped onto it: BOS and EOS are the model config's ids, and the roles it lacks ({@code <pad>},
 *     {@code <image>}, the chat markers) are appended as special tokens after its vocabulary (after the larger of
 *     the tokenizer's and the embedding's sizes); the embedding (and an untied LM head) grows by as many rows,
 *     each new row the mean of the pretrained rows (as transformers' {@code resize_token_embeddings} does).</li>
 * <li>{@code model.vision.init}: a Hugging Face {@code CLIPVisionModel} / {@code CLIPModel} folder, an OpenCLIP
 *     folder ({@code open_clip_config.json} + {@code model.safetensors} with {@code visual.*}), an {@code mm1 clip}
 *     run folder (its {@code encoder/}) or an mm1j model or run folder; its encoder shapes become the run's
 *     ({@code model.vision.featureLayer} may still be set).</li>
 * </ul>
 */
public final class PretrainedParts {
    /** Keys of {@code model.vision} that may accompany {@code init} (the others are shapes, taken from the folder). */
    static final List<String> VISION_INIT_OVERRIDES = List.of("init", "featureLayer");
    /** Where an {@code mm1 clip} run exports its encoder (EncoderPretrainer). */
    private static final String ENCODER = "encoder";

    private PretrainedParts() {}

    /** {@code model.llm.init} as a folder, or null. */
    public static Path llmFolder(RunConfig rc) {
        return folder(rc, "model.llm.init");
    }

    /**
     * {@code model.vision.init} as a folder, or null. An {@code mm1 clip} run folder gives its {@code encoder/} (the
     * CLIPVisionModel folder the run exports when complete); a clip run without one, or one of its checkpoints (a
     * CLIP training state, not a vision model), is refused naming the folder to give.
     */
    public static Path visionFolder(RunConfig rc) {
        Path p = folder(rc, "model.vision.init");
        return p == null ? null : clipRunEncoder(p);
    }

    /** {@code p}, or the encoder of the {@code mm1 clip} run (or checkpoint) that {@code p} is. */
    static Path clipRunEncoder(Path p) {
        if (isClipConfig(p.resolve("config.json"))) { // checkpoints/step-N of a clip run
            Path run = p.toAbsolutePath().normalize().getParent();
            run = run != null && run.getFileName() != null && run.getFileName().toString().equals("checkpoints")
                    ? run.getParent() : null;
            throw new Mm1Exception("model.vision.init: " + p + " is a checkpoint of an `mm1 clip` run (its "
                    + "config.json is the CLIP training's, not a vision model's); give "
                    + (run != null ? run.resolve(ENCODER) + " (written when the run completes)"
                    : "the run's " + ENCODER + "/ folder, written when the run completes"));
        }
        if (Files.isRegularFile(p.resolve("config.json")) || Files.isRegularFile(p.resolve("open_clip_config.json"))) {
            return p;
        }
        if (Files.isRegularFile(p.resolve(ENCODER).resolve("config.json"))) {
            return p.resolve(ENCODER); // an mm1 clip run folder
        }
        if (isClipConfig(p.resolve("run.json"))) {
            throw new Mm1Exception("model.vision.init: " + p + " is an `mm1 clip` run with no " + ENCODER + "/ yet "
                    + "(it is written when the run completes): finish it with `mm1 clip --out " + p + " --resume`, "
                    + "then give " + p + " or " + p.resolve(ENCODER));
        }
        return p; // an mm1j model or run folder
    }

    /** True for the config of an {@code mm1 clip} run or checkpoint: it names the encoder's training objective. */
    private static boolean isClipConfig(Path file) {
        if (!Files.isRegularFile(file)) {
            return false;
        }
        JsonNode n = JsonFiles.read(file);
        return n.has("objective") && !n.has("model_type") && !n.has("llm");
    }

    private static Path folder(RunConfig rc, String key) {
        JsonNode n = rc.node(key);
        if (n.isMissingNode() || n.isNull()) {
            return null;
        }
        if (!n.isTextual() || n.asText().isBlank()) {
            throw new Mm1Exception(key + " must be a folder path, got " + n);
        }
        Path p = Path.of(n.asText());
        if (!Files.isDirectory(p)) {
            throw new Mm1Exception(key + ": " + p + " is not a folder");
        }
        return p;
    }

    /** The LLM config of an HF Llama/Mistral folder. */
    public static LlmConfig llmConfig(Path folder) {
        Path cfg = folder.resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            throw new Mm1Exception("model.llm.init: " + folder + " has no config.json (expected a Hugging Face "
                    + "Llama/Mistral folder)");
        }
        return HfLlama.readConfig(cfg);
    }

    /**
     * Writes the run tokenizer: the LLM folder's {@code tokenizer.json} with the mm1j roles it lacks appended as
     * special tokens; returns the run's vocabulary (ids the embedding must hold).
     */
    public static int writeTokenizer(Path folder, Path out) {
        LlmConfig llm = llmConfig(folder);
        Path src = folder.resolve("tokenizer.json");
        if (!Files.isRegularFile(src)) {
            throw new Mm1Exception("model.llm.init: " + folder + " has no tokenizer.json (the run's tokenizer comes "
                    + "with the LLM)");
        }
        ObjectNode root = (ObjectNode) JsonFiles.read(src);
        ArrayNode added = root.has("added_tokens") && root.get("added_tokens").isArray()
                ? (ArrayNode) root.get("added_tokens") : root.putArray("added_tokens");
        int next;
        JsonNode vocab = root.path("model").path("vocab");
        try (Tokenizer tok = Tokenizer.load(src)) {
            for (int id : new int[] {llm.bosTokenId(), llm.eosTokenId()}) {
                if (id < 0 || id >= tok.vocabSize()) {
                    throw new Mm1Exception("model.llm.init: " + folder + "/config.json names BOS/EOS id " + id
                            + ", outside the tokenizer's " + tok.vocabSize() + " ids");
                }
            }
            next = Math.max(tok.vocabSize(), llm.vocabSize());
            for (int r = 0; r < SpecialTokens.COUNT; r++) {
                String name = SpecialTokens.ALL.get(r);
                if (r == SpecialTokens.BOS_ID || r == SpecialTokens.EOS_ID || tok.specialId(name) >= 0) {
                    continue;
                }
                // a role already in the vocabulary as a plain token becomes special with its id (HF keeps it)
                int id = vocab.isObject() && vocab.has(name) ? vocab.get(name).asInt() : next++;
                added.addObject().put("id", id).put("content", name).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", true);
            }
        }
        AtomicFiles.writeString(out, root.toPrettyString());
        try (Tokenizer check = Tokenizer.load(out)) {
            SpecialTokens.Ids.of(check, llm.bosTokenId(), llm.eosTokenId()); // every role resolves
            return Math.max(check.vocabSize(), llm.vocabSize());
        }
    }

    /** The vocabulary {@link #writeTokenizer} would give (for {@code --dry-run}), without writing anything. */
    public static int runVocab(Path folder) {
        try {
            Path tmp = Files.createTempFile("mm1-tokenizer", ".json");
            try {
                return writeTokenizer(folder, tmp);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (java.io.IOException e) {
            throw new Mm1Exception("cannot create a temporary file: " + e.getMessage(), e);
        }
    }

    /**
     * The encoder config of a vision folder: HF CLIP ({@code config.json} of a CLIPVisionModel, or a CLIPModel's
     * {@code vision_config}), OpenCLIP ({@code open_clip_config.json}) or mm1j (a model or run folder).
     */
    public static VisionConfig visionConfig(Path folder) {
        Path openClip = folder.resolve("open_clip_config.json");
        if (Files.isRegularFile(openClip)) {
            JsonNode m = JsonFiles.read(openClip).path("model_cfg");
            JsonNode v = m.path("vision_cfg");
            if (!v.isObject()) {
                throw new Mm1Exception(openClip + ": missing model_cfg.vision_cfg");
            }
            int width = Presets.intField(v, openClip, "width", null);
            int headWidth = Presets.intField(v, openClip, "head_width", 64);
            return VisionConfig.builder().imageSize(Presets.intField(v, openClip, "image_size", null))
                    .patchSize(Presets.intField(v, openClip, "patch_size", null)).width(width)
                    .layers(Presets.intField(v, openClip, "layers", null)).heads(width / headWidth)
                    .mlpDim((int) Math.round(width * v.path("mlp_ratio").asDouble(4.0)))
                    .activation(m.path("quick_gelu").asBoolean(false) ? "quick_gelu" : "gelu")
                    .layerNormEps(1e-5).build();
        }
        Path cfgFile = folder.resolve("config.json");
        if (!Files.isRegularFile(cfgFile)) {
            Path model = Mm1Model.resolveFolder(folder); // an mm1j run folder: its model/ or newest checkpoint
            return mm1jVision(model.resolve("config.json"));
        }
        JsonNode c = JsonFiles.read(cfgFile);
        if (c.has("llm")) {
            return mm1jVision(cfgFile);
        }
        String type = c.path("model_type").asText("");
        JsonNode v = type.equals("clip") ? c.path("vision_config") : c;
        if (!type.equals("clip") && !type.equals("clip_vision_model")) {
            throw new Mm1Exception("model.vision.init: " + cfgFile + ": model_type '" + type + "' is not a CLIP "
                    + "vision model (expected clip_vision_model or clip)");
        }
        String act = v.path("hidden_act").asText("quick_gelu"); // CLIPVisionConfig's default
        if (!act.equals("gelu") && !act.equals("quick_gelu")) {
            throw new Mm1Exception(cfgFile + ": hidden_act '" + act + "' is not supported (gelu, quick_gelu)");
        }
        // CLIPVisionConfig's defaults (ViT-B/32) where a field is left out
        return VisionConfig.builder().imageSize(Presets.intField(v, cfgFile, "image_size", 224))
                .patchSize(Presets.intField(v, cfgFile, "patch_size", 32))
                .width(Presets.intField(v, cfgFile, "hidden_size", 768))
                .layers(Presets.intField(v, cfgFile, "num_hidden_layers", 12))
                .heads(Presets.intField(v, cfgFile, "num_attention_heads", 12))
                .mlpDim(Presets.intField(v, cfgFile, "intermediate_size", 3072)).activation(act)
                .layerNormEps(v.path("layer_norm_eps").asDouble(1e-5)).build();
    }

    private static VisionConfig mm1jVision(Path cfgFile) {
        io.mm1j.config.Mm1Config c = Presets.read(cfgFile);
        if (c.vision() == null) {
            throw new Mm1Exception("model.vision.init: " + cfgFile + " is a text-only model (no vision encoder)");
        }
        return c.vision();
    }

    /** The weights folder of a vision init path (a run folder gives its model or newest checkpoint). */
    private static Path visionWeights(Path folder) {
        return Files.isRegularFile(folder.resolve("config.json"))
                || Files.isRegularFile(folder.resolve("open_clip_config.json")) ? folder
                : Mm1Model.resolveFolder(folder);
    }

    /**
     * Overwrites the model's LLM (embeddings, blocks, final norm, LM head) with the folder's weights; rows past the
     * folder's vocabulary (the appended roles) are the mean of its rows.
     */
    public static void loadLlm(Mm1Model model, Path folder) {
        LlmConfig hf = llmConfig(folder);
        LlmConfig run = model.config().llm();
        ParamStore into = model.params();
        try (NDManager tmp = into.manager().newSubManager();
             ParamStore p = new ParamStore(tmp, into.dtype());
             WeightFiles w = WeightFiles.open(folder)) {
            HfLlama.load(w, hf, p);
            for (Map.Entry<String, NDArray> e : p.all().entrySet()) {
                NDArray a = e.getValue();
                if ((e.getKey().equals(Decoder.EMBED) || e.getKey().equals(Decoder.LM_HEAD))
                        && a.getShape().get(0) < run.vocabSize()) {
                    long extra = run.vocabSize() - a.getShape().get(0);
                    a = a.concat(a.mean(new int[] {0}, true).repeat(0, extra), 0);
                }
                into.put(e.getKey(), a.duplicate());
            }
        }
    }

    /** Overwrites the model's image encoder with the folder's (HF CLIP, OpenCLIP or mm1j) weights. */
    public static void loadVision(Mm1Model model, Path folder) {
        Path weights = visionWeights(folder);
        ParamStore into = model.params();
        try (NDManager tmp = into.manager().newSubManager();
             ParamStore p = new ParamStore(tmp, into.dtype())) {
            VisionTransformer.load(weights, model.config().vision(), p);
            for (Map.Entry<String, NDArray> e : p.all().entrySet()) {
                into.put(e.getKey(), e.getValue().duplicate());
            }
        }
    }

    /**
     * Refuses settings that contradict an init folder (shape overrides, {@code model.moe} on an initialised LLM,
     * a tokenizer other than the LLM's) before anything is written.
     */
    public static void checkSettings(RunConfig rc) {
        Path llm = llmFolder(rc);
        if (llm != null) {
            JsonNode overrides = rc.node("model.llm");
            for (String k : RunModels.LLM_KEYS.keySet()) {
                if (!overrides.path(k).isNull() && !overrides.path(k).isMissingNode()) {
                    throw new Mm1Exception("model.llm." + k + ": the LLM's shapes come from model.llm.init (" + llm
                            + "); remove the override");
                }
            }
            if (!rc.node("model.moe").isNull() && !rc.node("model.moe").isMissingNode()) {
                throw new Mm1Exception("model.moe: with model.llm.init the LLM is the folder's; make an MoE of it "
                        + "with `mm1 upcycle` and continue with --init");
            }
            if (!rc.node("tokenizer").equals(RunConfig.defaults().get("tokenizer"))) {
                throw new Mm1Exception("tokenizer: the run's tokenizer comes with model.llm.init (" + llm
                        + "); remove the tokenizer setting");
            }
        }
        if (visionFolder(rc) != null) {
            visionOverrides(rc.node("model.vision"));
        }
    }

    /** The run's {@code model.vision} without {@code init}, checked to override nothing the folder fixes. */
    static ObjectNode visionOverrides(JsonNode vision) {
        ObjectNode o = vision.deepCopy();
        o.fieldNames().forEachRemaining(k -> {
            if (!VISION_INIT_OVERRIDES.contains(k)) {
                throw new Mm1Exception("model.vision." + k + ": the encoder's shapes come from model.vision.init ("
                        + vision.get("init").asText() + "); only " + VISION_INIT_OVERRIDES.subList(1,
                        VISION_INIT_OVERRIDES.size()) + " may be set beside it");
            }
        });
        o.remove("init");
        return o;
    }

    /** The LLM config as the mm1j JSON tree {@link RunModels} merges (vocabulary: the run's). */
    static ObjectNode llmTree(Path folder, int vocab) {
        LlmConfig c = llmConfig(folder);
        return Presets.JSON.valueToTree(c.withVocab(Math.max(vocab, c.vocabSize())));
    }

    /** As {@link #llmTree}, for the vision encoder. */
    static ObjectNode visionTree(Path folder) {
        return Presets.JSON.valueToTree(visionConfig(folder));
    }
}
