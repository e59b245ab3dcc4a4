package io.mm1j.mllm;

import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
import io.mm1j.llava.Llava;
import io.mm1j.llava.LlavaConfig;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.llm.Int8Weights;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.WeightFiles;
import io.mm1j.vision.VisionTransformer;
import io.mm1j.connector.VlConnector;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code mm1 info --model} reports about a model folder without loading a weight: the config (mm1j, HF Llama
 * or LLaVA) and the parameter counts read from the safetensors headers, per component.
 */
public final class FolderInfo {
    private FolderInfo() {}

    /** The mm1j view of a folder's config. */
    public static Mm1Config config(Path dir) {
        if (HfExport.isExport(dir)) {
            return HfExport.config(dir);
        }
        Path cfg = dir.resolve("config.json");
        if (LlavaConfig.isLlava(cfg)) {
            LlavaConfig c = LlavaConfig.read(cfg);
            return c.mm1Config(name(dir), "Hugging Face " + c.kind().architecture + " folder " + dir);
        }
        if (LlavaConfig.isMm1j(cfg)) {
            return Presets.read(cfg);
        }
        return new Mm1Config(name(dir), "Hugging Face model " + dir, HfLlama.readConfig(cfg), null, null, 0);
    }

    /**
     * Parameter counts from the weight headers (keys as {@link ParamCount#all}): total, llm, embedding (input
     * embedding plus an untied lm_head), nonEmbedding, active, and for a multimodal folder vision and connector.
     */
    public static Map<String, Long> params(Path dir, Mm1Config cfg) {
        boolean llava = LlavaConfig.isLlava(dir.resolve("config.json"));
        long llm = 0;
        long embedding = 0;
        long vision = 0;
        long connector = 0;
        // an HF export (HfExport) keeps the vision tower and the connector in folders of their own
        List<Path> dirs = HfExport.isExport(dir) && cfg.isMultimodal()
                ? List.of(dir, dir.resolve(HfExport.VISION_DIR), dir.resolve(HfExport.CONNECTOR_DIR)) : List.of(dir);
        for (Path d : dirs) {
            try (WeightFiles w = WeightFiles.open(d)) {
                Llava.Layout layout = llava ? Llava.Layout.of(w, dir) : null;
                for (String key : w.names()) {
                    String name = layout == null ? key : layout.ourName(key);
                    if (name == null || key.endsWith("position_ids") || key.endsWith("rotary_emb.inv_freq")) {
                        continue;
                    }
                    if (key.endsWith(Int8Weights.SCALE_SUFFIX) && Int8Weights.isInt8(w,
                            key.substring(0, key.length() - Int8Weights.SCALE_SUFFIX.length()))) {
                        continue; // the scales of an int8 matrix (mm1 quantize) are not parameters of their own
                    }
                    SafeTensors.Entry e = w.fileOf(key).entry(key);
                    if (name.equals(Decoder.LM_HEAD) && cfg.llm().tieEmbeddings()) {
                        continue; // HF writes a copy of the tied embedding
                    }
                    if (name.equals(Decoder.EMBED) || name.equals(Decoder.LM_HEAD)) {
                        embedding += e.numel();
                    }
                    if (Decoder.isDecoderTensor(name)) {
                        llm += e.numel();
                    } else if (name.startsWith(VisionTransformer.PREFIX)) {
                        vision += e.numel();
                    } else if (name.startsWith(VlConnector.PREFIX)) {
                        connector += e.numel();
                    }
                }
            }
        }
        Map<String, Long> out = new LinkedHashMap<>();
        long moeInactive = ParamCount.llm(cfg.llm()).total() - ParamCount.llm(cfg.llm()).active();
        out.put("total", llm + vision + connector);
        out.put("llm", llm);
        out.put("embedding", embedding);
        out.put("nonEmbedding", llm - embedding);
        out.put("active", llm - moeInactive + vision + connector);
        if (cfg.isMultimodal()) {
            out.put("vision", vision);
            out.put("connector", connector);
        }
        return out;
    }

    private static String name(Path dir) {
        Path n = dir.toAbsolutePath().normalize().getFileName();
        return n == null ? "model" : n.toString();
    }
}
