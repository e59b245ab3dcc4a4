package io.mm1j.llava;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.ConnectorType;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.VisionConfig;
import io.mm1j.llm.HfLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face LLaVA-family {@code config.json} ({@code LlavaForConditionalGeneration},
 * {@code LlavaNextForConditionalGeneration}), HF names mapped here and only here.
 *
 * <p>Hub configs are sparse: transformers fills every key a config leaves out with the defaults of the config
 * class ({@code LlavaConfig}, {@code CLIPVisionConfig}, {@code LlamaConfig}, {@code MistralConfig}); llava-1.5-7b's
 * {@code text_config} names only the vocabulary and context length, for example. Those defaults are applied here
 * before the sections are parsed.
 *
 * @param kind          LLaVA-1.5 (one crop per picture) or LLaVA-NeXT (any-resolution tiles)
 * @param text          the Llama/Mistral decoder
 * @param vision        the CLIP tower; {@code featureLayer} is {@code vision_feature_layer} (HF hidden_states
 *                      index, 0 = the embeddings after pre_layrnorm)
 * @param imageTokenId  {@code image_token_index}: the id every image position carries
 * @param projectorAct  {@code projector_hidden_act}: gelu, quick_gelu, relu or silu
 * @param projectorBias {@code multimodal_projector_bias}
 * @param keepCls       {@code vision_feature_select_strategy}: "full" keeps the CLS row, "default" drops it
 * @param gridPinpoints LLaVA-NeXT's {@code image_grid_pinpoints} as (height, width) pairs; empty for LLaVA-1.5
 */
public record LlavaConfig(Kind kind, LlmConfig text, VisionConfig vision, int imageTokenId, String projectorAct,
                          boolean projectorBias, boolean keepCls, List<int[]> gridPinpoints) {
    /** The two architectures. */
    public enum Kind {
        LLAVA("LlavaForConditionalGeneration", "llava"),
        LLAVA_NEXT("LlavaNextForConditionalGeneration", "llava_next");

        public final String architecture;
        public final String modelType;

        Kind(String architecture, String modelType) {
            this.architecture = architecture;
            this.modelType = modelType;
        }
    }

    static final Set<String> ACTIVATIONS = Set.of("gelu", "quick_gelu", "relu", "silu");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** transformers' CLIPVisionConfig defaults. */
    private static final Map<String, Object> CLIP_DEFAULTS = Map.of("hidden_size", 768, "intermediate_size", 3072,
            "num_hidden_layers", 12, "num_attention_heads", 12, "image_size", 224, "patch_size", 32,
            "hidden_act", "quick_gelu", "layer_norm_eps", 1e-5, "num_channels", 3);
    /** LlavaConfig's vision tower when {@code vision_config} is absent: CLIP ViT-L/14-336. */
    private static final Map<String, Object> LLAVA_VISION = Map.of("hidden_size", 1024, "intermediate_size", 4096,
            "num_hidden_layers", 24, "num_attention_heads", 16, "image_size", 336, "patch_size", 14,
            "hidden_act", "quick_gelu", "layer_norm_eps", 1e-5);
    /** transformers' LlamaConfig defaults (Llama-2-7B). */
    private static final Map<String, Object> LLAMA_DEFAULTS = Map.of("vocab_size", 32000, "hidden_size", 4096,
            "intermediate_size", 11008, "num_hidden_layers", 32, "num_attention_heads", 32,
            "max_position_embeddings", 2048, "rms_norm_eps", 1e-6, "rope_theta", 10000.0, "bos_token_id", 1,
            "eos_token_id", 2);
    /** transformers' MistralConfig defaults (Mistral-7B). */
    private static final Map<String, Object> MISTRAL_DEFAULTS = Map.ofEntries(Map.entry("vocab_size", 32000),
            Map.entry("hidden_size", 4096), Map.entry("intermediate_size", 14336),
            Map.entry("num_hidden_layers", 32), Map.entry("num_attention_heads", 32),
            Map.entry("num_key_value_heads", 8), Map.entry("max_position_embeddings", 4096 * 32),
            Map.entry("rms_norm_eps", 1e-6), Map.entry("rope_theta", 10000.0), Map.entry("bos_token_id", 1),
            Map.entry("eos_token_id", 2));

    public LlavaConfig {
        gridPinpoints = List.copyOf(gridPinpoints);
    }

    /** Whether {@code config.json} describes a LLaVA-family model (by architecture or model_type). */
    public static boolean isLlava(Path configJson) {
        JsonNode c = readJson(configJson);
        String arch = c.path("architectures").path(0).asText("");
        String type = c.path("model_type").asText("");
        for (Kind k : Kind.values()) {
            if (k.architecture.equals(arch) || k.modelType.equals(type)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code config.json} is mm1j's own (it has an "llm" section). */
    public static boolean isMm1j(Path configJson) {
        return readJson(configJson).has("llm");
    }

    /** Image tokens one tile (one encoder pass) becomes: the patch grid, plus CLS with "full". */
    public int tokensPerTile() {
        return vision.numPatches() + (keepCls ? 1 : 0);
    }

    /** The mm1j view: decoder, CLIP tower and an MLP connector of {@link #tokensPerTile} tokens per tile. */
    public Mm1Config mm1Config(String name, String description) {
        return new Mm1Config(name, description, text, vision, new ConnectorConfig(ConnectorType.MLP,
                tokensPerTile(), 0), 0);
    }

    /** Reads and validates {@code config.json}; every error names the file and the key. */
    public static LlavaConfig read(Path configJson) {
        JsonNode c = readJson(configJson);
        String arch = c.path("architectures").path(0).asText("");
        String type = c.path("model_type").asText("");
        Kind kind = arch.equals(Kind.LLAVA_NEXT.architecture) || type.equals(Kind.LLAVA_NEXT.modelType)
                ? Kind.LLAVA_NEXT : Kind.LLAVA;

        ObjectNode vc = withDefaults(c.get("vision_config"), c.has("vision_config") ? CLIP_DEFAULTS : LLAVA_VISION);
        String visionType = vc.path("model_type").asText("clip_vision_model");
        if (!visionType.equals("clip_vision_model")) {
            throw new Mm1Exception(configJson + ": vision_config.model_type '" + visionType + "' is not supported "
                    + "(mm1j loads CLIP vision towers: clip_vision_model)");
        }
        ObjectNode tc = c.get("text_config") instanceof ObjectNode t ? t.deepCopy() : JSON.createObjectNode();
        String textType = tc.path("model_type").asText("llama");
        tc.put("model_type", textType);
        tc = withDefaults(tc, textType.equals("mistral") ? MISTRAL_DEFAULTS : LLAMA_DEFAULTS);
        LlmConfig text = HfLlama.readConfig(tc, configJson);

        int layers = intField(vc, configJson, "vision_config.num_hidden_layers");
        JsonNode vfl = c.path("vision_feature_layer");
        if (!vfl.isMissingNode() && !vfl.isNull() && !vfl.isInt()) {
            throw new Mm1Exception(configJson + ": vision_feature_layer must be one integer, got " + vfl
                    + " (several layers concatenated are not supported)");
        }
        int featureLayer = vfl.isInt() ? vfl.intValue() : -2;
        if (featureLayer < -(layers + 1) || featureLayer > layers) {
            throw new Mm1Exception(configJson + ": vision_feature_layer " + featureLayer + " is outside the "
                    + (layers + 1) + " hidden states of the " + layers + "-layer vision tower");
        }
        // HF indexes hidden_states (embeddings + one per layer); mm1j's featureLayer is the same index within
        // [-layers, layers): the last state is -1, the embeddings 0.
        featureLayer = featureLayer == layers ? -1 : featureLayer == -(layers + 1) ? 0 : featureLayer;
        String act = vc.path("hidden_act").asText();
        if (!act.equals("gelu") && !act.equals("quick_gelu")) {
            throw new Mm1Exception(configJson + ": vision_config.hidden_act '" + act + "' is not supported (gelu or "
                    + "quick_gelu)");
        }
        VisionConfig vision;
        try {
            vision = VisionConfig.builder()
                    .imageSize(intField(vc, configJson, "vision_config.image_size"))
                    .patchSize(intField(vc, configJson, "vision_config.patch_size"))
                    .width(intField(vc, configJson, "vision_config.hidden_size"))
                    .layers(layers)
                    .heads(intField(vc, configJson, "vision_config.num_attention_heads"))
                    .mlpDim(intField(vc, configJson, "vision_config.intermediate_size"))
                    .activation(act)
                    .layerNormEps(vc.path("layer_norm_eps").asDouble(1e-5))
                    .featureLayer(featureLayer)
                    .build();
        } catch (Mm1Exception e) {
            throw new Mm1Exception(configJson + ": vision_config: " + e.getMessage());
        }

        String strategy = c.path("vision_feature_select_strategy").asText("default");
        if (!strategy.equals("default") && !strategy.equals("full")) {
            throw new Mm1Exception(configJson + ": vision_feature_select_strategy '" + strategy + "' is unknown "
                    + "(expected default or full)");
        }
        boolean keepCls = strategy.equals("full");
        if (kind == Kind.LLAVA_NEXT && keepCls) {
            throw new Mm1Exception(configJson + ": vision_feature_select_strategy 'full' with LLaVA-NeXT is not "
                    + "supported (its tile grid needs the patch tokens alone)");
        }
        String projectorAct = c.path("projector_hidden_act").asText("gelu");
        if (!ACTIVATIONS.contains(projectorAct)) {
            throw new Mm1Exception(configJson + ": projector_hidden_act '" + projectorAct + "' is not supported "
                    + "(one of " + ACTIVATIONS + ")");
        }
        String idKey = c.has("image_token_index") ? "image_token_index" : "image_token_id";
        JsonNode idNode = c.path(idKey);
        int imageTokenId = idNode.isMissingNode() || idNode.isNull() ? 32000 : idNode.asInt(-1);
        if (!idNode.isMissingNode() && !idNode.isNull() && !idNode.isInt() || imageTokenId < 0
                || imageTokenId >= text.vocabSize()) {
            throw new Mm1Exception(configJson + ": " + idKey + " " + (idNode.isMissingNode() ? imageTokenId : idNode)
                    + " is outside the vocabulary (text_config.vocab_size " + text.vocabSize() + ")");
        }
        List<int[]> pinpoints = new ArrayList<>();
        if (kind == Kind.LLAVA_NEXT) {
            pinpoints = pinpoints(c, configJson, vision.imageSize());
        }
        LlavaConfig out = new LlavaConfig(kind, text, vision, imageTokenId, projectorAct,
                c.path("multimodal_projector_bias").asBoolean(true), keepCls, pinpoints);
        JsonNode seq = c.get("image_seq_length");
        if (kind == Kind.LLAVA && seq != null && !seq.isNull() && seq.asInt() != out.tokensPerTile()) {
            throw new Mm1Exception(configJson + ": image_seq_length " + seq + " does not match the "
                    + out.tokensPerTile() + " tokens the vision tower gives (image_size / patch_size squared"
                    + (keepCls ? " + CLS" : "") + ")");
        }
        return out;
    }

    private static List<int[]> pinpoints(JsonNode c, Path configJson, int tile) {
        JsonNode p = c.get("image_grid_pinpoints");
        if (p == null || !p.isArray() || p.isEmpty()) {
            throw new Mm1Exception(configJson + ": image_grid_pinpoints must be a non-empty list of [height, width]");
        }
        List<int[]> out = new ArrayList<>();
        for (JsonNode hw : p) {
            if (!hw.isArray() || hw.size() != 2 || !hw.get(0).isInt() || !hw.get(1).isInt()
                    || hw.get(0).intValue() < tile || hw.get(1).intValue() < tile
                    || hw.get(0).intValue() % tile != 0 || hw.get(1).intValue() % tile != 0) {
                throw new Mm1Exception(configJson + ": image_grid_pinpoints entry " + hw + " must be [height, width] "
                        + "in positive multiples of vision_config.image_size " + tile);
            }
            out.add(new int[] {hw.get(0).intValue(), hw.get(1).intValue()});
        }
        return out;
    }

    private static int intField(JsonNode o, Path file, String key) {
        JsonNode v = o.get(key.substring(key.indexOf('.') + 1));
        if (v == null || !v.isInt() || v.intValue() < 1) {
            throw new Mm1Exception(file + ": " + key + " must be a positive integer, got " + v);
        }
        return v.intValue();
    }

    private static ObjectNode withDefaults(JsonNode given, Map<String, Object> defaults) {
        ObjectNode o = given instanceof ObjectNode g ? g.deepCopy() : JSON.createObjectNode();
        defaults.forEach((k, v) -> {
            if (!o.hasNonNull(k)) {
                o.set(k, JSON.valueToTree(v));
            }
        });
        return o;
    }

    static JsonNode readJson(Path file) {
        try {
            JsonNode n = JSON.readTree(Files.readString(file));
            if (n == null || !n.isObject()) {
                throw new Mm1Exception(file + ": expected a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new Mm1Exception(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }
}
