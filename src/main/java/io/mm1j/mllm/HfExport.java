package io.mm1j.mllm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.encoder.ClipVisionFolder;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.BoundedFiles;
import io.mm1j.io.SafePaths;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.VisionTransformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The full-model Hugging Face hand-off ({@code mm1 export --format hf}): a folder that PyTorch users (FSDP, vLLM,
 * transformers) read component by component, and that mm1j reads back bit-exactly.
 *
 * <pre>
 * out/config.json, model.safetensors     the LLM: LlamaForCausalLM (MixtralForCausalLM for MoE), HF key names
 * out/tokenizer.json, tokenizer_config.json …   the model's tokenizer files
 * out/vision_tower/                      CLIPVisionModel: config.json, model.safetensors (vision_model.*),
 *                                        preprocessor_config.json (CLIPImageProcessor)
 * out/connector/model.safetensors        the vision-language connector's tensors (connector.*)
 * out/mm1_config.json                    how the parts assemble, and the complete mm1j config
 * </pre>
 * All tensors are F32 (mm1j's training dtype), so export → import reproduces every tensor exactly. The folder is
 * text-only (no vision_tower/, connector/) for an LLM-only model.
 */
public final class HfExport {
    /** The assembly file that marks an export folder. */
    public static final String FILE = "mm1_config.json";
    public static final String FORMAT = "mm1j-hf";
    public static final String VISION_DIR = "vision_tower";
    public static final String CONNECTOR_DIR = "connector";
    /** Tokenizer and generation files copied from the source folder when present. */
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "chat_template.json", "chat_template.jinja", "generation_config.json");

    private HfExport() {}

    /** True when {@code dir} holds an {@link #FILE} (an export folder). */
    public static boolean isExport(Path dir) {
        return Files.isRegularFile(dir.resolve(FILE));
    }

    /**
     * Writes {@code model} (loaded from {@code source}, whose tokenizer files are copied) into the empty folder
     * {@code out}; returns the LLM's architecture.
     */
    public static String write(Mm1Model model, Path source, Path out) {
        if (io.mm1j.llava.Llava.images(model) != null) {
            throw new Mm1Exception("export --format hf: this model was loaded from a LLaVA folder; write it back "
                    + "with --format llava");
        }
        Mm1Config c = model.config();
        Map<String, NDArray> all = model.params().all();
        io.mm1j.nn.ParamStore.LinearAdapter adapter = model.params().adapter();
        HfLlama.save(model.decoder(), out);
        String arch = c.llm().moe() != null ? "MixtralForCausalLM" : "LlamaForCausalLM";
        if (c.isMultimodal()) {
            Path vdir = out.resolve(VISION_DIR);
            Path kdir = out.resolve(CONNECTOR_DIR);
            SafeTensorsWriter vision = new SafeTensorsWriter().metadata("format", "pt");
            SafeTensorsWriter connector = new SafeTensorsWriter().metadata("format", "pt");
            for (Map.Entry<String, NDArray> e : all.entrySet()) {
                String name = e.getKey();
                if (Decoder.isDecoderTensor(name) || (adapter != null && adapter.owns(name))) {
                    continue;
                }
                NDArray a = e.getValue();
                SafeTensorsWriter.Tensor t = SafeTensorsWriter.Tensor.f32(name, a.getShape().getShape(),
                        a.toType(DataType.FLOAT32, false).toFloatArray());
                (name.startsWith(VisionTransformer.PREFIX) ? vision : connector).add(t);
            }
            mkdirs(vdir);
            mkdirs(kdir);
            vision.write(vdir.resolve("model.safetensors"));
            AtomicFiles.writeString(vdir.resolve("config.json"), ClipVisionFolder.config(c.vision()).toPrettyString());
            AtomicFiles.writeString(vdir.resolve("preprocessor_config.json"),
                    ClipVisionFolder.preprocessor(c.vision().imageSize()).toPrettyString());
            connector.write(kdir.resolve("model.safetensors"));
        }
        for (String f : TOKENIZER_FILES) {
            Path from = source.resolve(f);
            if (Files.isRegularFile(from)) {
                try {
                    Files.copy(from, out.resolve(f));
                } catch (IOException e) {
                    throw new Mm1Exception(from + ": cannot copy: " + e.getMessage(), e);
                }
            }
        }
        AtomicFiles.writeString(out.resolve(FILE), assembly(model, source, arch).toPrettyString());
        return arch;
    }

    /** {@link #FILE}: the parts, how they connect, and the complete mm1j config. */
    static ObjectNode assembly(Mm1Model model, Path source, String arch) {
        Mm1Config c = model.config();
        ObjectNode o = Presets.JSON.createObjectNode();
        o.put("format", FORMAT);
        o.put("format_version", 1);
        ObjectNode llm = o.putObject("llm");
        llm.put("path", ".");
        llm.put("architecture", arch);
        if (c.llm().moe() != null && c.llm().moe().every() != 1) {
            llm.put("note", "MoE in every " + c.llm().moe().every() + "th layer (config key mm1j_moe_every); the other "
                    + "layers keep dense mlp.gate_proj/up_proj/down_proj tensors, which stock MixtralForCausalLM "
                    + "(experts in every layer) does not have");
        }
        if (c.isMultimodal()) {
            ObjectNode v = o.putObject("vision_tower");
            v.put("path", VISION_DIR);
            v.put("architecture", "CLIPVisionModel");
            v.put("feature_layer", c.vision().featureLayer());
            v.put("features", "hidden_states of feature_layer (−1: the last encoder layer, before post_layernorm), "
                    + "patch tokens only (the CLS token dropped), (N, (image_size/patch_size)^2, hidden_size)");
            ObjectNode k = o.putObject("connector");
            k.put("path", CONNECTOR_DIR + "/model.safetensors");
            k.put("type", c.connector().type().json());
            k.put("tensor_prefix", "connector.");
            k.put("image_tokens", model.imageTokens());
            k.put("output", "(N, image_tokens, llm hidden_size): spliced into the LLM's input embeddings at the image "
                    + "token positions, image_tokens per picture");
            Path tok = source.resolve("tokenizer.json");
            if (Files.isRegularFile(tok)) {
                try (Tokenizer t = Tokenizer.load(tok)) {
                    o.put("image_token_id", model.imageTokenId(t));
                }
            }
            if (c.highRes() != null) {
                o.set("high_res", Presets.JSON.valueToTree(c.highRes()));
            }
        }
        o.set("mm1j_config", Presets.JSON.valueToTree(c));
        return o;
    }

    /** Reads an export folder back: the mm1j config from {@link #FILE}, the tensors from the three parts. */
    public static Mm1Model load(Path dir, NDManager manager, DataType dtype) {
        Path file = dir.resolve(FILE);
        JsonNode o = assembly(file);
        Mm1Config c = config(dir);
        Path vision = dir;
        Path connector = dir;
        if (c.isMultimodal()) {
            vision = SafePaths.inside(dir, o.path("vision_tower").path("path").asText(VISION_DIR),
                    file + ": vision_tower.path");
            String k = o.path("connector").path("path").asText(CONNECTOR_DIR + "/model.safetensors");
            if (!k.endsWith("/model.safetensors")) {
                throw new Mm1Exception(file + ": connector.path must name a folder's model.safetensors, got '" + k
                        + "'");
            }
            connector = SafePaths.regularFileInside(dir, k, file + ": connector.path").getParent();
        }
        return Mm1Model.assemble(c, dir, vision, connector, manager, dtype);
    }

    /** The mm1j config of an export folder (its {@link #FILE}'s {@code mm1j_config}). */
    public static Mm1Config config(Path dir) {
        Path file = dir.resolve(FILE);
        JsonNode cfgNode = assembly(file).get("mm1j_config");
        if (cfgNode == null || !cfgNode.isObject()) {
            throw new Mm1Exception(file + ": 'mm1j_config' is missing");
        }
        return Presets.bind(cfgNode, file + ": mm1j_config");
    }

    private static JsonNode assembly(Path file) {
        BoundedFiles.checkRegular(file, Presets.MAX_CONFIG_BYTES, FILE);
        JsonNode o;
        try {
            o = Presets.JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new Mm1Exception(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (o == null || !FORMAT.equals(o.path("format").asText()) || o.path("format_version").asInt() != 1) {
            throw new Mm1Exception(file + ": 'format' must be \"" + FORMAT + "\" with format_version 1");
        }
        return o;
    }

    private static void mkdirs(Path d) {
        try {
            Files.createDirectories(d);
        } catch (IOException e) {
            throw new Mm1Exception(d + ": cannot create folder: " + e.getMessage(), e);
        }
    }
}
