package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.TestSupport;
import io.mm1j.io.JsonFiles;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.vision.RgbImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA on the LLM, the connector and the encoder: base equality at B = 0, merge, PEFT files, bad adapters. */
class LoraTest {
    @TempDir
    static Path tmp;
    static Path dir;
    static RgbImage image;
    NDManager m;
    Mm1Model model;

    @BeforeAll
    static void init() {
        dir = tmp.resolve("tiny");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString(), "--seed", "5")
                .code());
        byte[] rgb = new byte[40 * 30 * 3];
        new Random(2).nextBytes(rgb);
        image = new RgbImage(40, 30, rgb);
    }

    @BeforeEach
    void load() {
        m = TestSupport.root().newSubManager();
        model = Mm1Model.load(dir, m, DataType.FLOAT32);
    }

    @AfterEach
    void close() {
        model.close();
        m.close();
    }

    /** Logits of a fixed prompt: BOS, one image (k slots), a few text ids. */
    static float[] logits(Mm1Model mm) {
        try (NDManager s = mm.params().manager().newSubManager()) {
            int k = mm.imageTokens();
            long[] ids = new long[1 + k + 4];
            ids[0] = SpecialTokens.BOS_ID;
            for (int i = 1; i <= k; i++) {
                ids[i] = SpecialTokens.IMAGE_ID;
            }
            for (int i = 0; i < 4; i++) {
                ids[1 + k + i] = 20 + 7 * i;
            }
            NDArray pixels = mm.preprocess(s, List.of(image));
            NDArray idArr = s.create(ids, new Shape(1, ids.length));
            return mm.forward(idArr, pixels, SpecialTokens.IMAGE_ID).logits().toFloatArray();
        }
    }

    static final Lora.Config ALL = Lora.Config.parse("rank=2,alpha=6,targets=q_proj,v_proj,down_proj,fc1,"
            + "connector.proj");

    @Test
    void freshAdapterLeavesTheModelUnchangedAndFreezesTheBase() {
        float[] base = logits(model);
        Lora l = Lora.attach(model, ALL);
        assertArrayEquals(base, logits(model), 0f); // B = 0: the low-rank term is exactly zero
        // LLM q/v/down in 2 layers, encoder q/v/fc1 in 1 layer, the avg-pool connector's projection
        assertEquals(2 * 3 + 3 + 1, l.modules().size());
        model.params().enableGradients();
        try (AdamW opt = AdamW.standard(model.params())) {
            assertEquals(l.parameterCount(), opt.trainableParameters()); // only A and B are trained
        }
    }

    @Test
    void mergedModelEqualsTheAdapterPathAndPeftFilesRoundTrip() throws Exception {
        Lora l = Lora.attach(model, ALL);
        Random r = new Random(3);
        for (String module : l.modules().values()) { // a trained adapter: B no longer zero
            Shape s = model.params().get(Lora.bName(module)).getShape();
            float[] v = new float[(int) s.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (r.nextGaussian() * 0.3);
            }
            model.params().put(Lora.bName(module), m.create(v, s));
        }
        float[] adapted = logits(model);
        Path out = tmp.resolve("adapter-" + System.nanoTime());
        l.save(out, "tiny");
        JsonNode cfg = JsonFiles.read(out.resolve("adapter_config.json"));
        assertEquals("LORA", cfg.get("peft_type").asText());
        assertEquals(2, cfg.get("r").asInt());
        assertEquals(6.0, cfg.get("lora_alpha").asDouble());
        assertEquals("[\"q_proj\",\"v_proj\",\"down_proj\",\"fc1\",\"connector.proj\"]",
                cfg.get("target_modules").toString());
        try (SafeTensors st = SafeTensors.open(out.resolve("adapter_model.safetensors"))) {
            TreeSet<String> keys = new TreeSet<>(st.entries().keySet());
            assertEquals(20, keys.size());
            assertTrue(keys.contains("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"), keys::toString);
            assertTrue(keys.contains("base_model.model.vision_model.encoder.layers.0.mlp.fc1.lora_B.weight"),
                    keys::toString);
            assertTrue(keys.contains("base_model.model.connector.proj.lora_A.weight"), keys::toString);
            assertArrayEquals(new long[] {2, 32}, st.entries()
                    .get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").shape());
        }
        l.merge();
        float[] merged = logits(model);
        float worst = 0;
        for (int i = 0; i < merged.length; i++) {
            worst = Math.max(worst, Math.abs(merged[i] - adapted[i]));
        }
        assertTrue(worst < 1e-4, "merged vs adapter logits differ by " + worst);
        assertTrue(model.params().all().keySet().stream().noneMatch(n -> n.startsWith(Lora.PEFT_PREFIX)));
        try (NDManager m2 = TestSupport.root().newSubManager();
             Mm1Model fresh = Mm1Model.load(dir, m2, DataType.FLOAT32)) {
            Lora.load(fresh, out);
            assertArrayEquals(adapted, logits(fresh), 0f); // the saved adapter reproduces the adapter path exactly
        }
    }

    @Test
    void rankLargerThanTheLayerIsRefused() {
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> Lora.attach(model,
                Lora.Config.parse("rank=17,targets=k_proj")));
        assertEquals("--lora rank=17 is larger than layer 'model.layers.0.self_attn.k_proj' (16×32): choose rank "
                + "<= 16", e.getMessage());
    }

    @Test
    void targetThatMatchesNothingIsRefused() {
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> Lora.attach(model,
                Lora.Config.parse("rank=2,targets=q_proj,qkv")));
        assertTrue(e.getMessage().startsWith("--lora targets: 'qkv' matches no linear layer of model 'tiny-test' "
                + "(linear modules: "), e.getMessage());
    }

    @Test
    void adapterForAnotherModelShapeIsRefused() throws Exception {
        Path out = tmp.resolve("other-" + System.nanoTime());
        Lora.attach(model, Lora.Config.parse("rank=2,targets=q_proj")).save(out, "tiny");
        Files.writeString(out.resolve("adapter_config.json"), Files.readString(out.resolve("adapter_config.json"))
                .replace("\"r\" : 2", "\"r\" : 3"));
        try (NDManager m2 = TestSupport.root().newSubManager();
             Mm1Model fresh = Mm1Model.load(dir, m2, DataType.FLOAT32)) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> Lora.load(fresh, out));
            assertEquals(out.resolve("adapter_model.safetensors") + ": tensor 'base_model.model.model.layers.0."
                    + "self_attn.q_proj.lora_A.weight' has shape [2, 32] but this model's layer 'model.layers.0."
                    + "self_attn.q_proj' (32, 32) with r=3 needs [3, 32]: an adapter for another model shape",
                    e.getMessage());
        }
    }

    @Test
    void specParsing() {
        Lora.Config c = Lora.Config.parse("rank=8,alpha=16,dropout=0.05,targets=q_proj,k_proj,v_proj,o_proj");
        assertEquals(new Lora.Config(8, 16, 0.05, List.of("q_proj", "k_proj", "v_proj", "o_proj")), c);
        assertEquals("--lora dropout must be within [0, 1), got 1.0",
                assertThrows(Mm1Exception.class, () -> Lora.Config.parse("rank=2,dropout=1")).getMessage());
        assertEquals("--lora: unknown key 'rnak' (keys: rank, alpha, dropout, targets)",
                assertThrows(Mm1Exception.class, () -> Lora.Config.parse("rnak=2")).getMessage());
    }
}
