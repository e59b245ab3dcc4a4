package io.mm1j.llava;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.Mm1Exception;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.WeightFiles;
import io.mm1j.vision.VisionTransformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hugging Face LLaVA-family folders ({@code LlavaForConditionalGeneration}, {@code LlavaNextForConditionalGeneration})
 * loaded as an {@link Mm1Model}: the Llama/Mistral decoder, the CLIP tower and the projector land under mm1j's own
 * names, so generation, evaluation and export run on them unchanged; the folder's image handling
 * ({@link LlavaImages}: its preprocessor config, feature layer and strategy, NeXT tiling) comes along as the model's
 * {@link io.mm1j.mllm.ImagePipeline}.
 *
 * <p>Both key layouts of the hub are read (sharded or not):
 * <pre>
 *   mm1j name        legacy (transformers &lt; 4.52)          new (transformers ≥ 4.52)
 *   model.*          language_model.model.*                  model.language_model.*
 *   lm_head.weight   language_model.lm_head.weight           lm_head.weight
 *   vision_model.*   vision_tower.vision_model.*             model.vision_tower.vision_model.*
 *   connector.*      multi_modal_projector.*                 model.multi_modal_projector.*
 *   connector.image_newline   image_newline                  model.image_newline
 * </pre>
 */
public final class Llava {
    private Llava() {}

    /** The two key layouts. */
    public enum Layout {
        LEGACY("language_model.model.", "language_model.lm_head.weight", "vision_tower.vision_model.",
                "multi_modal_projector.", "image_newline"),
        NEW("model.language_model.", "lm_head.weight", "model.vision_tower.vision_model.",
                "model.multi_modal_projector.", "model.image_newline");

        private final Map<String, String> prefixes = new LinkedHashMap<>(); // mm1j prefix → file prefix

        Layout(String lm, String head, String vision, String projector, String newline) {
            prefixes.put(LlavaProjector.NEWLINE, newline);
            prefixes.put(Decoder.LM_HEAD, head);
            prefixes.put("model.", lm);
            prefixes.put(VisionTransformer.PREFIX, vision);
            prefixes.put(io.mm1j.connector.VlConnector.PREFIX, projector);
        }

        /** The checkpoint key of an mm1j tensor name. */
        public String fileKey(String name) {
            for (Map.Entry<String, String> e : prefixes.entrySet()) {
                if (name.startsWith(e.getKey())) {
                    return e.getValue() + name.substring(e.getKey().length());
                }
            }
            throw new IllegalArgumentException("no LLaVA key for " + name);
        }

        /** The layout of open LLaVA weights (names the expected key when neither is there). */
        public static Layout of(WeightFiles w, Path dir) {
            return detect(w, dir);
        }

        /** The mm1j name of a checkpoint key, or null when it belongs to no component. */
        public String ourName(String fileKey) {
            for (Map.Entry<String, String> e : prefixes.entrySet()) {
                if (fileKey.startsWith(e.getValue())) {
                    return e.getKey() + fileKey.substring(e.getValue().length());
                }
            }
            return null;
        }

        static Layout detect(WeightFiles w, Path weightsFile) {
            if (w.contains("language_model.model.embed_tokens.weight")) {
                return LEGACY;
            }
            if (w.contains("model.language_model.embed_tokens.weight")) {
                return NEW;
            }
            throw new Mm1Exception(weightsFile + ": tensor 'language_model.model.embed_tokens.weight' (or "
                    + "'model.language_model.embed_tokens.weight') is missing: not a LLaVA checkpoint");
        }
    }

    /** Loads a LLaVA / LLaVA-NeXT folder (float32, or float64 for gradient checks). */
    public static Mm1Model load(Path dir, NDManager manager, DataType dtype) {
        Path cfgFile = dir.resolve("config.json");
        LlavaConfig c = LlavaConfig.read(cfgFile);
        LlavaPreprocessing pre = LlavaPreprocessing.read(dir, c);
        ParamStore p = new ParamStore(manager, dtype);
        try (WeightFiles w = WeightFiles.open(dir)) {
            Path weightsFile = Files.isRegularFile(dir.resolve(WeightFiles.INDEX)) ? dir.resolve(WeightFiles.INDEX)
                    : dir.resolve(WeightFiles.SINGLE);
            Layout layout = Layout.detect(w, weightsFile);
            for (String key : new ArrayList<>(w.names())) {
                String ours = layout.ourName(key);
                if (ours != null && !ours.equals(key)) {
                    w.alias(ours, key);
                }
            }
            Map<String, Shape> projector = LlavaProjector.shapes(c);
            checkPresent(w, layout, weightsFile, projector);
            checkPresent(w, layout, weightsFile, Decoder.expectedShapes(c.text()));
            checkPresent(w, layout, weightsFile, VisionTransformer.expectedShapes(c.vision()));
            String fc1 = LlavaProjector.FC1 + "weight";
            long[] fc1Shape = w.fileOf(fc1).entry(w.fileKey(fc1)).shape();
            if (fc1Shape.length != 2 || fc1Shape[1] != c.vision().width()) {
                throw new Mm1Exception(cfgFile + ": vision_config.hidden_size " + c.vision().width() + " does not "
                        + "match the projector's input width " + (fc1Shape.length == 2 ? fc1Shape[1] : "?") + " ('"
                        + layout.fileKey(fc1) + "' in " + weightsFile.getFileName() + ")");
            }
            Decoder d = HfLlama.load(w, c.text(), p);
            VisionTransformer v = VisionTransformer.load(w, dir, c.vision(), p);
            for (Map.Entry<String, Shape> e : projector.entrySet()) {
                p.put(e.getKey(), w.load(p.manager(), e.getKey(), e.getValue()));
            }
            List<String> unused = w.unused();
            unused.removeIf(n -> n.endsWith("position_ids") || n.endsWith("rotary_emb.inv_freq")
                    || n.equals(Decoder.LM_HEAD));
            if (!unused.isEmpty()) {
                String first = unused.get(0);
                throw new Mm1Exception(weightsFile + ": unexpected tensors for this config, e.g. '"
                        + w.fileKey(first) + "' (" + unused.size() + " in all)");
            }
            LlavaProjector k = new LlavaProjector(c, p);
            String name = dir.toAbsolutePath().normalize().getFileName() == null ? "llava"
                    : dir.toAbsolutePath().normalize().getFileName().toString();
            return Mm1Model.foreign(c.mm1Config(name, c.kind().architecture + " from " + dir), p, d, v, k,
                    new LlavaImages(c, pre, v, k, layout), c.imageTokenId());
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    private static void checkPresent(WeightFiles w, Layout layout, Path weightsFile, Map<String, Shape> shapes) {
        for (String name : shapes.keySet()) {
            if (!w.contains(name) && !name.contains(".experts.w")) {
                throw new Mm1Exception(weightsFile + ": tensor '" + layout.fileKey(name) + "' is missing"
                        + (name.startsWith(io.mm1j.connector.VlConnector.PREFIX) ? " (the multimodal projector)"
                        : ""));
            }
        }
    }

    /** The LLaVA config and preprocessing of a model loaded from a LLaVA folder, or null. */
    public static LlavaImages images(Mm1Model m) {
        return m.isMultimodal() && m.imagePipeline() instanceof LlavaImages li ? li : null;
    }
}
