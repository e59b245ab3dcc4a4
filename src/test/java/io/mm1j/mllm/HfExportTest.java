package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.TestSupport;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.ConnectorType;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.MoeConfig;
import io.mm1j.config.Presets;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tokenizer.BpeTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 export --format hf}: an MM1 model as Hugging Face parts, read back bit-exactly. */
class HfExportTest {
    @TempDir
    Path tmp;

    /** tiny-test with MM1's C-Abstractor and a 4-expert top-2 MoE LLM, saved with a tokenizer. */
    private Path mm1Model() throws Exception {
        Mm1Config tiny = Presets.load("tiny-test");
        Mm1Config cfg = new Mm1Config("tiny-moe-cabs", "tiny MoE with a C-Abstractor",
                tiny.llm().withMoe(MoeConfig.mm1(4, 1)), tiny.vision(),
                new ConnectorConfig(ConnectorType.C_ABSTRACTOR, 4, 1), 4);
        Path dir = tmp.resolve("mm1j");
        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
            model.save(dir);
        }
        new BpeTrainer(cfg.llm().vocabSize(), 2).add("a cat on a mat with a red hat and a dog in the fog")
                .train().write(dir.resolve("tokenizer.json"));
        return dir;
    }

    private static Set<String> names(Path safetensors) {
        // the header names, as HF tools see them
        try (SafeTensors st = SafeTensors.open(safetensors)) {
            return new java.util.TreeSet<>(st.names());
        }
    }

    @Test
    void exportedPartsUseHfNamesAndImportBackBitExactly() throws Exception {
        Path src = mm1Model();
        Path out = tmp.resolve("hf");
        TestSupport.CliRun r = TestSupport.cli("export", "--model", src.toString(), "--format", "hf", "--out",
                out.toString());
        assertEquals(0, r.code(), r.err());

        JsonNode llm = Presets.JSON.readTree(out.resolve("config.json").toFile());
        assertEquals("MixtralForCausalLM", llm.get("architectures").get(0).asText());
        assertEquals(4, llm.get("num_local_experts").asInt());
        JsonNode vision = Presets.JSON.readTree(out.resolve("vision_tower/config.json").toFile());
        assertEquals("CLIPVisionModel", vision.get("architectures").get(0).asText());
        assertEquals("clip_vision_model", vision.get("model_type").asText());
        JsonNode asm = Presets.JSON.readTree(out.resolve("mm1_config.json").toFile());
        assertEquals("c-abstractor", asm.get("connector").get("type").asText());
        assertEquals(4, asm.get("connector").get("image_tokens").asInt());
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));
        // HF key names: modeling_mixtral (block_sparse_moe.experts.E.w1/w2/w3, gate), modeling_clip (vision_model.*)
        Set<String> llmKeys = names(out.resolve("model.safetensors"));
        assertTrue(llmKeys.contains("model.embed_tokens.weight"), llmKeys.toString());
        assertTrue(llmKeys.contains("model.layers.1.self_attn.k_proj.weight"));
        assertTrue(llmKeys.contains("model.layers.0.block_sparse_moe.gate.weight"));
        assertTrue(llmKeys.contains("model.layers.0.block_sparse_moe.experts.3.w2.weight"));
        assertTrue(llmKeys.contains("model.norm.weight") && llmKeys.contains("lm_head.weight"));
        Set<String> visionKeys = names(out.resolve("vision_tower/model.safetensors"));
        assertTrue(visionKeys.contains("vision_model.embeddings.patch_embedding.weight"));
        assertTrue(visionKeys.contains("vision_model.embeddings.class_embedding"));
        assertTrue(visionKeys.contains("vision_model.pre_layrnorm.weight")); // sic: HF's spelling
        assertTrue(visionKeys.contains("vision_model.encoder.layers.0.mlp.fc1.bias"));
        assertTrue(visionKeys.contains("vision_model.post_layernorm.bias"));
        Set<String> connectorKeys = names(out.resolve("connector/model.safetensors"));
        assertFalse(connectorKeys.isEmpty());
        assertTrue(connectorKeys.stream().allMatch(k -> k.startsWith("connector.")), connectorKeys.toString());

        // mm1 info --model reads the parts' headers: the same counts as the source folder
        assertEquals(FolderInfo.config(src), FolderInfo.config(out));
        assertEquals(FolderInfo.params(src, FolderInfo.config(src)), FolderInfo.params(out, FolderInfo.config(out)));

        try (NDManager m = TestSupport.root().newSubManager();
             Mm1Model a = Mm1Model.load(src, m, DataType.FLOAT32);
             Mm1Model b = Mm1Model.load(Mm1Model.resolveFolder(out), m, DataType.FLOAT32)) {
            assertEquals(a.config(), b.config());
            Map<String, NDArray> pa = a.params().all();
            Map<String, NDArray> pb = b.params().all();
            assertEquals(pa.keySet(), pb.keySet());
            for (String n : pa.keySet()) {
                assertArrayEquals(pa.get(n).toFloatArray(), pb.get(n).toFloatArray(), n); // bit for bit
            }
            int image = 5;
            long[] ids = {1, 9, image, image, image, image, 20, 33};
            NDArray tokens = m.create(ids, new Shape(1, ids.length));
            NDArray pixels = m.randomUniform(-1f, 1f, new Shape(1, 3, 32, 32));
            assertArrayEquals(a.forward(tokens, pixels, image).logits().toFloatArray(),
                    b.forward(tokens, pixels, image).logits().toFloatArray());
        }
    }

    @Test
    void anAssemblyPathLeavingTheFolderIsRefused() throws Exception {
        Path src = mm1Model();
        Path out = tmp.resolve("hf");
        assertEquals(0, TestSupport.cli("export", "--model", src.toString(), "--format", "hf", "--out",
                out.toString()).code());
        Path asm = out.resolve("mm1_config.json");
        Files.writeString(asm, Files.readString(asm).replace("\"path\" : \"vision_tower\"", "\"path\" : \"../x\""));
        try (NDManager m = TestSupport.root().newSubManager()) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> Mm1Model.load(out, m, DataType.FLOAT32));
            assertEquals(asm + ": vision_tower.path: '../x' leads outside " + out, e.getMessage());
        }
    }
}
