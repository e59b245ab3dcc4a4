package io.mm1j.llm;

import io.mm1j.io.AtomicFiles;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.MoeConfig;
import io.mm1j.config.Presets;
import io.mm1j.nn.ParamStore;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tensor.WeightFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hugging Face Llama-family model folders ({@code config.json} + safetensors) in and out.
 *
 * <p>Reads {@code LlamaForCausalLM} and {@code MixtralForCausalLM} configs (HF JSON names are mapped here and only
 * here). Every tensor is checked against the shape the config implies; missing, mis-shaped and unexpected
 * tensors fail with the file and tensor named. Export writes the same names and F32 data, so a load → export
 * round trip is bit-exact.
 */
public final class HfLlama {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final List<String> ARCHITECTURES = List.of("LlamaForCausalLM", "MistralForCausalLM",
            "MixtralForCausalLM");

    private HfLlama() {}

    /** Parses an HF {@code config.json} into mm1j's {@link LlmConfig}. */
    public static LlmConfig readConfig(Path configJson) {
        JsonNode c;
        try {
            c = JSON.readTree(configJson.toFile());
        } catch (IOException e) {
            throw new Mm1Exception(configJson + ": not valid JSON: " + e.getMessage());
        }
        if (c == null || !c.isObject()) {
            throw new Mm1Exception(configJson + ": expected a JSON object");
        }
        return readConfig(c, configJson);
    }

    /**
     * Parses an HF Llama-family config object (e.g. the {@code text_config} inside a LLaVA config); errors name
     * {@code configJson}.
     */
    public static LlmConfig readConfig(JsonNode c, Path configJson) {
        String arch = c.path("architectures").path(0).asText(c.path("model_type").asText(""));
        String modelType = c.path("model_type").asText("");
        if (!ARCHITECTURES.contains(arch) && !Set.of("llama", "mistral", "mixtral").contains(modelType)) {
            throw new Mm1Exception(configJson + ": unsupported architecture '" + arch + "' (model_type '" + modelType
                    + "'); mm1j loads " + ARCHITECTURES);
        }
        int hidden = Presets.intField(c, configJson, "hidden_size", null);
        int heads = Presets.intField(c, configJson, "num_attention_heads", null);
        int headDim = Presets.intField(c, configJson, "head_dim", heads > 0 ? hidden / heads : 0);
        MoeConfig moe = null;
        if (c.hasNonNull("num_local_experts")) {
            moe = new MoeConfig(Presets.intField(c, configJson, "num_local_experts", null),
                    Presets.intField(c, configJson, "num_experts_per_tok", 2),
                    Presets.intField(c, configJson, "mm1j_moe_every", 1), 0,
                    c.path("router_aux_loss_coef").asDouble(0.01), c.path("router_z_loss_coef").asDouble(0.001), 0);
        }
        if (c.hasNonNull("rope_scaling")) {
            throw new Mm1Exception(configJson + ": rope_scaling is not supported yet (found "
                    + c.get("rope_scaling") + ")");
        }
        // eos_token_id may be one id or a list (Llama-3: end of text, end of message, end of turn)
        List<Integer> eos = new java.util.ArrayList<>();
        if (c.path("eos_token_id").isArray()) {
            for (JsonNode n : c.get("eos_token_id")) {
                if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                    throw new Mm1Exception(configJson + ": 'eos_token_id' must hold integers, got " + n);
                }
                eos.add(n.intValue());
            }
        } else {
            eos.add(Presets.intField(c, configJson, "eos_token_id", 2));
        }
        if (eos.isEmpty()) {
            eos.add(2);
        }
        int vocab = Presets.intField(c, configJson, "vocab_size", null);
        int intermediate = Presets.intField(c, configJson, "intermediate_size", null);
        int layers = Presets.intField(c, configJson, "num_hidden_layers", null);
        int kvHeads = Presets.intField(c, configJson, "num_key_value_heads", heads);
        int maxPositions = Presets.intField(c, configJson, "max_position_embeddings", 2048);
        int bos = Presets.intField(c, configJson, "bos_token_id", 1);
        try {
            return LlmConfig.builder()
                    .vocabSize(vocab)
                    .hiddenSize(hidden)
                    .intermediateSize(intermediate)
                    .numLayers(layers)
                    .numHeads(heads)
                    .numKvHeads(kvHeads)
                    .headDim(headDim)
                    .maxPositions(maxPositions)
                    .rmsNormEps(c.path("rms_norm_eps").asDouble(1e-6))
                    .ropeTheta(c.path("rope_theta").asDouble(10000.0))
                    .tieEmbeddings(c.path("tie_word_embeddings").asBoolean(false))
                    .bosTokenId(bos)
                    .eosTokenId(eos.get(0))
                    .moe(moe)
                    .extraEosTokenIds(eos.subList(1, eos.size()))
                    .build();
        } catch (Mm1Exception e) {
            throw new Mm1Exception(configJson + ": " + e.getMessage());
        }
    }

    /** Loads a model folder into a decoder (float32, or float64 for gradient checks). */
    public static Decoder load(Path dir, NDManager manager, DataType dtype) {
        LlmConfig cfg = readConfig(dir.resolve("config.json"));
        return load(dir, cfg, manager, dtype);
    }

    /** Loads weights for a known config (e.g. an mm1j run folder whose LLM config is already parsed). */
    public static Decoder load(Path dir, LlmConfig cfg, NDManager manager, DataType dtype) {
        ParamStore p = new ParamStore(manager, dtype);
        try (WeightFiles w = WeightFiles.open(dir)) {
            Decoder d = load(w, cfg, p);
            // HF writes lm_head.weight even for tied models (a copy); older exports carry rotary inv_freq buffers.
            List<String> unused = w.unused();
            unused.remove(Decoder.LM_HEAD);
            unused.removeIf(n -> n.endsWith("rotary_emb.inv_freq"));
            if (!unused.isEmpty()) {
                throw new Mm1Exception(dir + ": unexpected tensors for this config, e.g. '" + unused.get(0) + "' ("
                        + unused.size() + " in all)");
            }
            return d;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /**
     * Loads the decoder's tensors from open weight files into {@code p} (shape-checked; experts stacked). Matrices
     * stored as int8 ({@link Int8Weights}) are kept as such for the CPU decode path and put into {@code p}
     * dequantised.
     */
    public static Decoder load(WeightFiles w, LlmConfig cfg, ParamStore p) {
        Map<String, Int8Matrix> int8 = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : Decoder.expectedShapes(cfg).entrySet()) {
            String name = e.getKey();
            if (name.contains(".experts.w") && !w.contains(name)) {
                p.put(name, stackExperts(w, p.manager(), name, e.getValue()));
            } else if (Int8Weights.isInt8(w, name)) {
                Int8Matrix m = Int8Weights.read(w, name, e.getValue());
                int8.put(name, m);
                p.put(name, p.manager().create(m.dequantize(), e.getValue()));
            } else {
                p.put(name, w.load(p.manager(), name, e.getValue()));
            }
        }
        Decoder d = new Decoder(cfg, p);
        if (!int8.isEmpty()) {
            if (cfg.moe() != null) {
                throw new Mm1Exception(w.fileOf(int8.keySet().iterator().next()).path() + ": int8 weights in an MoE "
                        + "model; mm1j reads int8 for dense decoders only");
            }
            d.useInt8(Int8Weights.of(int8));
        }
        return d;
    }

    /** Mixtral stores experts one by one ({@code experts.E.w1.weight (F, D)}); mm1j stacks them (E, F, D). */
    private static NDArray stackExperts(WeightFiles w, NDManager manager, String stackedName, Shape stacked) {
        String prefix = stackedName.substring(0, stackedName.indexOf(".experts.w") + ".experts.".length());
        String wname = stackedName.substring(prefix.length()); // "w1.weight"
        Shape one = stacked.slice(1);
        NDList parts = new NDList();
        for (int e = 0; e < stacked.get(0); e++) {
            parts.add(w.load(manager, prefix + e + "." + wname, one));
        }
        NDArray s = ai.djl.ndarray.NDArrays.stack(parts);
        parts.close();
        return s;
    }

    /**
     * Writes {@code config.json} and {@code model.safetensors} in HF format (F32). MoE experts are split per expert
     * (Mixtral names); a tied model also gets {@code lm_head.weight} as HF tools expect.
     */
    public static void save(Decoder decoder, Path dir) {
        LlmConfig c = decoder.config();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Mm1Exception(dir + ": cannot create folder: " + e.getMessage());
        }
        SafeTensorsWriter out = new SafeTensorsWriter().metadata("format", "pt");
        tensors(decoder).forEach(out::add);
        AtomicFiles.writeString(dir.resolve("config.json"), configJson(c));
        out.write(dir.resolve("model.safetensors"));
    }

    /**
     * The decoder's tensors under HF names, F32: MoE experts split per expert (Mixtral names), and for a tied model
     * {@code lm_head.weight} as a copy of the embedding, as HF tools expect.
     */
    public static List<SafeTensorsWriter.Tensor> tensors(Decoder decoder) {
        List<SafeTensorsWriter.Tensor> out = new java.util.ArrayList<>();
        for (Map.Entry<String, NDArray> e : decoder.params().all().entrySet()) {
            String name = e.getKey();
            NDArray a = e.getValue();
            if (!Decoder.isDecoderTensor(name)) {
                continue;
            }
            if (name.contains(".experts.w")) {
                String prefix = name.substring(0, name.indexOf(".experts.w") + ".experts.".length());
                String wname = name.substring(prefix.length());
                for (int x = 0; x < a.getShape().get(0); x++) {
                    try (NDArray one = a.get(x)) {
                        out.add(tensor(prefix + x + "." + wname, one));
                    }
                }
            } else {
                out.add(tensor(name, a));
            }
        }
        if (decoder.config().tieEmbeddings()) {
            out.add(tensor(Decoder.LM_HEAD, decoder.params().get(Decoder.EMBED)));
        }
        return out;
    }

    private static SafeTensorsWriter.Tensor tensor(String name, NDArray a) {
        float[] v = a.getDataType() == DataType.FLOAT32 ? a.toFloatArray()
                : a.toType(DataType.FLOAT32, false).toFloatArray();
        return SafeTensorsWriter.Tensor.f32(name, a.getShape().getShape(), v);
    }

    /** HF {@code config.json} text for {@code c}. */
    public static String configJson(LlmConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(c.moe() != null ? "MixtralForCausalLM" : "LlamaForCausalLM");
        o.put("model_type", c.moe() != null ? "mixtral" : "llama");
        o.put("hidden_size", c.hiddenSize());
        o.put("intermediate_size", c.intermediateSize());
        o.put("num_hidden_layers", c.numLayers());
        o.put("num_attention_heads", c.numHeads());
        o.put("num_key_value_heads", c.numKvHeads());
        o.put("head_dim", c.headDim());
        o.put("vocab_size", c.vocabSize());
        o.put("max_position_embeddings", c.maxPositions());
        o.put("rms_norm_eps", c.rmsNormEps());
        o.put("rope_theta", c.ropeTheta());
        o.putNull("rope_scaling");
        o.put("hidden_act", "silu");
        o.put("attention_bias", false);
        o.put("mlp_bias", false);
        o.put("tie_word_embeddings", c.tieEmbeddings());
        o.put("bos_token_id", c.bosTokenId());
        if (c.extraEosTokenIds().isEmpty()) {
            o.put("eos_token_id", c.eosTokenId());
        } else {
            var ids = o.putArray("eos_token_id").add(c.eosTokenId());
            c.extraEosTokenIds().forEach(ids::add);
        }
        o.put("torch_dtype", "float32");
        if (c.moe() != null) {
            o.put("num_local_experts", c.moe().numExperts());
            o.put("num_experts_per_tok", c.moe().topK());
            o.put("router_aux_loss_coef", c.moe().balanceCoef());
            o.put("router_z_loss_coef", c.moe().zLossCoef());
            // Mixtral has MoE in every layer; mm1j's spacing is kept under its own key.
            o.put("mm1j_moe_every", c.moe().every());
        }
        try {
            return JSON.writeValueAsString(o);
        } catch (IOException e) {
            throw new Mm1Exception("cannot encode config.json: " + e.getMessage());
        }
    }
}
