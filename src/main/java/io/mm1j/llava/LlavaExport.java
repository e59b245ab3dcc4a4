package io.mm1j.llava;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.connector.MlpConnector;
import io.mm1j.io.AtomicFiles;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImagePreprocessor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes a model as a Hugging Face LLaVA folder that transformers, vLLM and llama.cpp's converters read: an mm1j
 * model whose connector is an MLP (the same two linears and GELU as LLaVA-1.5's projector, patch tokens without
 * CLS from {@code featureLayer}), or a model loaded from a LLaVA folder (written back with its own settings).
 *
 * <p>Files: {@code config.json} (complete: every key spelled out, none left to transformers' defaults),
 * {@code model.safetensors} (F32, so load → export → load is bit-exact), {@code preprocessor_config.json},
 * {@code processor_config.json}, {@code tokenizer.json} and {@code tokenizer_config.json}. An mm1j tokenizer gets a
 * {@code TemplateProcessing} post-processor that adds BOS, because mm1j prompts start with BOS while a LLaVA
 * processor leaves BOS to the tokenizer.
 */
public final class LlavaExport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private LlavaExport() {}

    /**
     * @param model  the loaded model
     * @param source the folder it was loaded from (tokenizer files are taken from there)
     * @param out    an empty folder (see {@link io.mm1j.io.OutputDir})
     * @return the architecture written
     */
    public static String write(Mm1Model model, Path source, Path out, Llava.Layout layout) {
        LlavaImages li = Llava.images(model);
        LlavaConfig c;
        LlavaPreprocessing pre;
        boolean mm1jTokenizer = li == null;
        Path tokenizerJson = source.resolve("tokenizer.json");
        if (li != null) {
            c = li.config();
            pre = li.preprocessing();
        } else {
            c = fromMm1j(model, tokenizerJson);
            int s = c.vision().imageSize();
            pre = new LlavaPreprocessing(s, s, s, 1 / 255.0, ImagePreprocessor.CLIP_MEAN, ImagePreprocessor.CLIP_STD);
        }
        writeModel(model, c, pre, out, layout);
        writeTokenizer(tokenizerJson, out.resolve("tokenizer.json"), mm1jTokenizer, c.text().bosTokenId());
        Path tokenizerConfig = source.resolve("tokenizer_config.json");
        try {
            if (Files.isRegularFile(tokenizerConfig)) {
                Files.copy(tokenizerConfig, out.resolve("tokenizer_config.json"));
            } else {
                AtomicFiles.writeString(out.resolve("tokenizer_config.json"), toJson(JSON.createObjectNode()
                        .put("tokenizer_class", "PreTrainedTokenizerFast")
                        .put("model_max_length", c.text().maxPositions())));
            }
        } catch (IOException e) {
            throw new Mm1Exception(tokenizerConfig + ": cannot copy: " + e.getMessage(), e);
        }
        return c.kind().architecture;
    }

    /**
     * Saves a model loaded from a LLaVA folder ({@link Mm1Model#save}: checkpoints, a fine-tuned run's model) as a
     * LLaVA folder again, in the key layout it was read in: its image handling (feature layer and strategy,
     * projector, preprocessing, NeXT tiling) is the folder's and has no mm1j config. Every embedding row is written,
     * those a padded vocabulary holds past the tokenizer included (text_config.vocab_size stays the folder's). The
     * tokenizer files are the caller's to copy; a LoRA adapter's tensors are left out (they are saved on their own).
     *
     * @throws IllegalArgumentException when the model was not loaded from a LLaVA folder
     */
    public static void save(Mm1Model model, Path out) {
        LlavaImages li = Llava.images(model);
        if (li == null) {
            throw new IllegalArgumentException("model '" + model.config().name() + "' was not loaded from a LLaVA "
                    + "folder");
        }
        writeModel(model, li.config(), li.preprocessing(), out, li.layout());
    }

    /** config.json, model.safetensors (F32), preprocessor_config.json and processor_config.json. */
    private static void writeModel(Mm1Model model, LlavaConfig c, LlavaPreprocessing pre, Path out,
                                   Llava.Layout layout) {
        SafeTensorsWriter weights = new SafeTensorsWriter().metadata("format", "pt");
        for (SafeTensorsWriter.Tensor t : HfLlama.tensors(model.decoder())) {
            weights.add(new SafeTensorsWriter.Tensor(layout.fileKey(t.name()), t.dtype(), t.shape(), t.data()));
        }
        ParamStore.LinearAdapter adapter = model.params().adapter();
        for (Map.Entry<String, NDArray> e : model.params().all().entrySet()) {
            if (!Decoder.isDecoderTensor(e.getKey()) && (adapter == null || !adapter.owns(e.getKey()))) {
                NDArray a = e.getValue();
                float[] v = a.getDataType() == DataType.FLOAT32 ? a.toFloatArray()
                        : a.toType(DataType.FLOAT32, false).toFloatArray();
                weights.add(SafeTensorsWriter.Tensor.f32(layout.fileKey(e.getKey()), a.getShape().getShape(), v));
            }
        }
        weights.write(out.resolve("model.safetensors"));
        AtomicFiles.writeString(out.resolve("config.json"), toJson(config(c)));
        AtomicFiles.writeString(out.resolve(LlavaPreprocessing.FILE), toJson(preprocessor(c, pre)));
        ObjectNode processor = JSON.createObjectNode()
                .put("processor_class", c.kind() == LlavaConfig.Kind.LLAVA ? "LlavaProcessor" : "LlavaNextProcessor")
                .put("patch_size", c.vision().patchSize())
                .put("vision_feature_select_strategy", c.keepCls() ? "full" : "default")
                .put("num_additional_image_tokens", 1)
                .put("image_token", "<image>");
        AtomicFiles.writeString(out.resolve("processor_config.json"), toJson(processor));
    }

    /** The LLaVA view of an mm1j model, or a clear refusal. */
    private static LlavaConfig fromMm1j(Mm1Model model, Path tokenizerJson) {
        String name = model.config().name();
        if (!model.isMultimodal()) {
            throw new Mm1Exception("export --format llava: model '" + name + "' is text-only (LLaVA needs an image "
                    + "encoder and an MLP connector)");
        }
        if (!(model.connector() instanceof MlpConnector)) {
            throw new Mm1Exception("export --format llava: model '" + name + "' has a "
                    + model.config().connector().type().json() + " connector, which LLaVA has no equivalent for "
                    + "(its projector is an MLP); such models need the full-model Hugging Face export, a separate "
                    + "feature");
        }
        if (model.config().highRes() != null) {
            throw new Mm1Exception("export --format llava: model '" + name + "' tiles each picture into "
                    + "high-resolution sub-images (MM1 §3.4, config.json highRes), which a LLaVA folder cannot say: "
                    + "it would load as one " + model.config().vision().imageSize() + " px image per picture; use "
                    + "--format hf (keeps the tiling), or sft --no-high-res for a model without it");
        }
        int imageId;
        try (Tokenizer tok = Tokenizer.load(tokenizerJson)) {
            imageId = model.imageTokenId(tok);
        }
        return new LlavaConfig(LlavaConfig.Kind.LLAVA, model.config().llm(), model.config().vision(), imageId,
                "gelu", true, false, List.of());
    }

    /** The complete HF config (nothing left to transformers' defaults). */
    static ObjectNode config(LlavaConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(c.kind().architecture);
        o.put("model_type", c.kind().modelType);
        o.put("image_token_index", c.imageTokenId());
        o.put("projector_hidden_act", c.projectorAct());
        o.put("multimodal_projector_bias", c.projectorBias());
        o.put("vision_feature_layer", c.vision().featureLayer());
        o.put("vision_feature_select_strategy", c.keepCls() ? "full" : "default");
        if (c.kind() == LlavaConfig.Kind.LLAVA) {
            o.put("image_seq_length", c.tokensPerTile());
        } else {
            ArrayNode pins = o.putArray("image_grid_pinpoints");
            c.gridPinpoints().forEach(p -> pins.addArray().add(p[0]).add(p[1]));
        }
        o.put("tie_word_embeddings", c.text().tieEmbeddings());
        o.put("torch_dtype", "float32");
        ObjectNode v = o.putObject("vision_config");
        v.put("model_type", "clip_vision_model");
        v.put("hidden_size", c.vision().width());
        v.put("intermediate_size", c.vision().mlpDim());
        v.put("num_hidden_layers", c.vision().layers());
        v.put("num_attention_heads", c.vision().heads());
        v.put("image_size", c.vision().imageSize());
        v.put("patch_size", c.vision().patchSize());
        v.put("num_channels", 3);
        v.put("hidden_act", c.vision().activation());
        v.put("layer_norm_eps", c.vision().layerNormEps());
        try {
            o.set("text_config", JSON.readTree(HfLlama.configJson(c.text())));
        } catch (IOException e) {
            throw new Mm1Exception("cannot encode text_config: " + e.getMessage(), e);
        }
        return o;
    }

    private static ObjectNode preprocessor(LlavaConfig c, LlavaPreprocessing pre) {
        ObjectNode p = JSON.createObjectNode();
        boolean next = c.kind() == LlavaConfig.Kind.LLAVA_NEXT;
        p.put("image_processor_type", next ? "LlavaNextImageProcessor" : "CLIPImageProcessor");
        p.put("do_resize", true);
        p.putObject("size").put("shortest_edge", pre.shortestEdge());
        p.put("resample", 3);
        p.put("do_center_crop", true);
        p.putObject("crop_size").put("height", pre.cropHeight()).put("width", pre.cropWidth());
        p.put("do_rescale", true);
        p.put("rescale_factor", pre.rescale());
        p.put("do_normalize", true);
        ArrayNode mean = p.putArray("image_mean");
        ArrayNode std = p.putArray("image_std");
        for (int i = 0; i < 3; i++) {
            mean.add(pre.mean()[i]);
            std.add(pre.std()[i]);
        }
        p.put("do_convert_rgb", true);
        if (next) {
            ArrayNode pins = p.putArray("image_grid_pinpoints");
            c.gridPinpoints().forEach(x -> pins.addArray().add(x[0]).add(x[1]));
            p.put("do_pad", true);
        }
        return p;
    }

    /**
     * A LLaVA folder's tokenizer is copied as it is; an mm1j tokenizer gets a post-processor that adds BOS (wrapped
     * in a {@code Sequence} after an existing one).
     */
    private static void writeTokenizer(Path from, Path to, boolean addBos, int bosId) {
        try {
            if (!addBos) {
                Files.copy(from, to);
                return;
            }
            ObjectNode root = (ObjectNode) JSON.readTree(from.toFile());
            String bos = null;
            for (JsonNode t : root.path("added_tokens")) {
                if (t.path("id").asInt(-1) == bosId) {
                    bos = t.path("content").asText();
                }
            }
            if (bos == null) {
                throw new Mm1Exception(from + ": no added token has the model's BOS id " + bosId);
            }
            ObjectNode template = JSON.createObjectNode().put("type", "TemplateProcessing");
            template.putArray("single").add(special(bos, 0)).add(sequence("A", 0));
            template.putArray("pair").add(special(bos, 0)).add(sequence("A", 0)).add(special(bos, 1))
                    .add(sequence("B", 1));
            ObjectNode entry = template.putObject("special_tokens").putObject(bos).put("id", bos);
            entry.putArray("ids").add(bosId);
            entry.putArray("tokens").add(bos);
            JsonNode existing = root.get("post_processor");
            if (existing == null || existing.isNull()) {
                root.set("post_processor", template);
            } else {
                ObjectNode seq = JSON.createObjectNode().put("type", "Sequence");
                seq.putArray("processors").add(existing).add(template);
                root.set("post_processor", seq);
            }
            AtomicFiles.writeString(to, JSON.writeValueAsString(root));
        } catch (IOException e) {
            throw new Mm1Exception(from + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static ObjectNode special(String token, int typeId) {
        ObjectNode n = JSON.createObjectNode();
        n.putObject("SpecialToken").put("id", token).put("type_id", typeId);
        return n;
    }

    private static ObjectNode sequence(String id, int typeId) {
        ObjectNode n = JSON.createObjectNode();
        n.putObject("Sequence").put("id", id).put("type_id", typeId);
        return n;
    }

    private static String toJson(JsonNode n) {
        try {
            return JSON.writeValueAsString(n);
        } catch (IOException e) {
            throw new Mm1Exception("cannot encode JSON: " + e.getMessage(), e);
        }
    }
}
