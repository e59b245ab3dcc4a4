package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.io.WrittenNumbers;
import java.util.HashMap;
import java.util.Map;

/**
 * The model of a run ({@code model.*}): a preset, with HF-named LLM overrides ({@code model.llm.hidden_size} …),
 * and {@code model.vision} / {@code model.connector} / {@code model.moe} as objects in mm1j's config field names
 * merged onto the preset's (or {@code false} to drop them: no vision → a text-only Llama). The vocabulary follows
 * the run's tokenizer unless {@code model.llm.vocab_size} is given.
 */
public final class RunModels {
    /** HF config names of {@code model.llm} → mm1j's {@code LlmConfig} fields. */
    static final Map<String, String> LLM_KEYS = Map.of("vocab_size", "vocabSize", "hidden_size", "hiddenSize",
            "num_hidden_layers", "numLayers", "num_attention_heads", "numHeads", "num_key_value_heads", "numKvHeads",
            "intermediate_size", "intermediateSize", "max_position_embeddings", "maxPositions",
            "tie_word_embeddings", "tieEmbeddings");

    private RunModels() {}

    /**
     * @param tokenizerVocab the run tokenizer's vocabulary size
     * @param name           the model's name (the run's)
     */
    public static Mm1Config build(RunConfig rc, int tokenizerVocab, String name) {
        Mm1Config preset = Presets.load(rc.text("model.preset"));
        ObjectNode tree = Presets.JSON.valueToTree(preset);
        ObjectNode llm = (ObjectNode) tree.get("llm");
        JsonNode overrides = rc.node("model.llm");
        java.nio.file.Path llmInit = PretrainedParts.llmFolder(rc);
        PretrainedParts.checkSettings(rc);
        if (llmInit != null) {
            tree.set("llm", PretrainedParts.llmTree(llmInit, tokenizerVocab));
            llm = (ObjectNode) tree.get("llm");
        }
        boolean headsOrWidth = false;
        for (Map.Entry<String, String> e : LLM_KEYS.entrySet()) {
            JsonNode v = overrides.path(e.getKey());
            if (v.isMissingNode() || v.isNull()) {
                continue;
            }
            boolean isBool = e.getKey().equals("tie_word_embeddings");
            if (isBool ? !v.isBoolean() : !(v.isIntegralNumber() && v.canConvertToInt() && v.asInt() > 0)) {
                throw new Mm1Exception("model.llm." + e.getKey() + " must be " + (isBool ? "true or false"
                        : "a whole number >= 1") + ", got " + rc.shown("model.llm." + e.getKey()));
            }
            llm.set(e.getValue(), v);
            headsOrWidth |= e.getKey().equals("hidden_size") || e.getKey().equals("num_attention_heads");
        }
        if (headsOrWidth) {
            int hidden = llm.get("hiddenSize").asInt();
            int heads = llm.get("numHeads").asInt();
            if (hidden % heads != 0) {
                throw new Mm1Exception("model.llm.hidden_size (" + hidden + ") must be a multiple of "
                        + "num_attention_heads (" + heads + ")");
            }
            llm.put("headDim", hidden / heads);
            if (overrides.path("num_key_value_heads").isNull() || overrides.path("num_key_value_heads")
                    .isMissingNode()) {
                llm.put("numKvHeads", heads); // the preset's GQA ratio need not fit the new head count
            }
        }
        if (llmInit != null) {
            if (llm.get("vocabSize").asInt() < tokenizerVocab) {
                throw new Mm1Exception("model.llm.init: the run tokenizer has " + tokenizerVocab + " ids, the LLM "
                        + llm.get("vocabSize").asInt());
            }
        } else if (overrides.path("vocab_size").isNull() || overrides.path("vocab_size").isMissingNode()) {
            llm.put("vocabSize", tokenizerVocab);
        } else if (llm.get("vocabSize").asInt() < tokenizerVocab) {
            throw new Mm1Exception("model.llm.vocab_size (" + llm.get("vocabSize").asInt() + ") is smaller than the "
                    + "tokenizer's vocabulary (" + tokenizerVocab + ")");
        }
        int seq = rc.integer("data.seq_len");
        if (llm.get("maxPositions").asInt() < seq && llmInit == null && (overrides.path("max_position_embeddings").isNull()
                || overrides.path("max_position_embeddings").isMissingNode())) {
            llm.put("maxPositions", seq); // the preset's context must hold the run's sequences
        }
        java.nio.file.Path visionInit = PretrainedParts.visionFolder(rc);
        if (visionInit != null) {
            ObjectNode v = PretrainedParts.visionTree(visionInit);
            v.setAll(PretrainedParts.visionOverrides(rc.node("model.vision")));
            tree.set("vision", v);
            component(tree, "connector", rc.node("model.connector"));
            if (!tree.has("connector")) {
                throw new Mm1Exception("model.vision.init: the preset '" + rc.text("model.preset") + "' has no "
                        + "connector; set model.connector");
            }
        } else {
            component(tree, "vision", rc.node("model.vision"));
        }
        if (visionInit == null) {
            component(tree, "connector", rc.node("model.connector"));
        }
        JsonNode moe = rc.node("model.moe");
        if (moe.isBoolean() && !moe.asBoolean()) {
            llm.remove("moe");
        } else if (moe.isObject()) {
            ObjectNode base;
            if (llm.has("moe") && llm.get("moe").isObject()) {
                base = (ObjectNode) llm.get("moe");
            } else {
                // a new MoE: MM1's routing (top-2, balance 0.01, z 0.001, every 2nd layer) for what is left out
                if (!moe.has("numExperts")) {
                    throw new Mm1Exception("model.moe.numExperts is required (the preset '" + rc.text("model.preset")
                            + "' has no MoE to take it from)");
                }
                base = Presets.JSON.valueToTree(io.mm1j.config.MoeConfig.mm1(moe.get("numExperts").asInt(2), 2));
                llm.set("moe", base);
            }
            base.setAll((ObjectNode) moe);
        } else if (!moe.isNull() && !moe.isMissingNode()) {
            throw new Mm1Exception("model.moe must be an object of MoE settings or false, got " + moe);
        }
        if (!tree.has("vision") && tree.has("connector")) {
            if (rc.node("model.connector").isObject()) {
                throw new Mm1Exception("model.connector is set but the model has no vision tower (model.vision is "
                        + "false, or the preset has none): a connector needs one");
            }
            tree.remove("connector"); // a text-only Llama: the preset's connector goes with its vision tower
        }
        if (tree.has("vision") && !tree.has("connector")) {
            throw new Mm1Exception("model.connector is false but the model has a vision tower: set model.vision=false "
                    + "too for a text-only Llama, or give a connector");
        }
        tree.put("name", name);
        if (!tree.has("vision")) {
            tree.put("description", "text-only Llama of run " + name);
        }
        // the overrides' numbers as written, where they sit in the model config (moe under llm)
        Map<String, String> written = new HashMap<>();
        written.putAll(WrittenNumbers.placed(rc.writtenUnder("model.vision"), "/vision"));
        written.putAll(WrittenNumbers.placed(rc.writtenUnder("model.connector"), "/connector"));
        written.putAll(WrittenNumbers.placed(rc.writtenUnder("model.moe"), "/llm/moe"));
        Mm1Config c = Presets.bind(tree, Mm1Config.class, "model", "", written);
        if (c.llm().maxPositions() < seq) {
            throw new Mm1Exception("model.llm.max_position_embeddings (" + c.llm().maxPositions() + ") is smaller "
                    + "than data.seq_len (" + seq + ")");
        }
        return c;
    }

    private static void component(ObjectNode tree, String key, JsonNode override) {
        if (override.isBoolean() && !override.asBoolean()) {
            tree.remove(key);
        } else if (override.isObject()) {
            if (tree.get(key) instanceof ObjectNode base) {
                base.setAll((ObjectNode) override);
            } else {
                tree.set(key, override.deepCopy());
            }
        } else if (!override.isNull() && !override.isMissingNode()) {
            throw new Mm1Exception("model." + key + " must be an object of " + key + " settings or false, got "
                    + override);
        }
    }
}
