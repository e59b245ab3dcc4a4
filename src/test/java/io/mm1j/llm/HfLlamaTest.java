package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.TestSupport;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.MoeConfig;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.SafeTensorsWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfLlamaTest {
    @TempDir
    Path tmp;

    @Test
    void moeModelExportsMixtralNamesAndReloadsToIdenticalLogits() {
        LlmConfig c = LlmConfig.llama(40, 16, 24, 2, 4, 2, 32, false).withMoe(new MoeConfig(3, 2, 2, 0, 0.01, 0.001, 0));
        try (NDManager m = TestSupport.root().newSubManager()) {
            Decoder d = Decoder.init(c, m, DataType.FLOAT32);
            HfLlama.save(d, tmp);
            try (SafeTensors st = SafeTensors.open(tmp.resolve("model.safetensors"))) {
                assertTrue(st.entries().containsKey("model.layers.1.block_sparse_moe.experts.2.w1.weight"));
                assertTrue(st.entries().containsKey("model.layers.0.mlp.gate_proj.weight"));
            }
            Decoder back = HfLlama.load(tmp, m, DataType.FLOAT32);
            assertEquals(c, back.config());
            NDArray ids = m.create(new long[] {1, 4, 9, 16}, new Shape(1, 4));
            float[] a = d.forward(ids).logits().toFloatArray();
            float[] b = back.forward(ids).logits().toFloatArray();
            assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b));
        }
    }

    @Test
    void severalEosIdsAreAllStopIdsAndRoundTrip() throws Exception {
        java.nio.file.Files.writeString(tmp.resolve("config.json"), "{\"architectures\": [\"LlamaForCausalLM\"], "
                + "\"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 1, "
                + "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 40, "
                + "\"bos_token_id\": 1, \"eos_token_id\": [2, 30, 31], \"rope_scaling\": null}");
        LlmConfig c = HfLlama.readConfig(tmp.resolve("config.json"));
        assertEquals(2, c.eosTokenId());
        assertEquals(java.util.Set.of(1, 2, 30, 31), c.stopIds());
        java.nio.file.Files.writeString(tmp.resolve("config.json"), HfLlama.configJson(c));
        assertEquals(c, HfLlama.readConfig(tmp.resolve("config.json")));
    }

    @Test
    void unexpectedTensorIsRefused() {
        LlmConfig c = LlmConfig.llama(40, 16, 24, 1, 4, 2, 32, true);
        try (NDManager m = TestSupport.root().newSubManager()) {
            Decoder d = Decoder.init(c, m, DataType.FLOAT32);
            HfLlama.save(d, tmp);
            SafeTensorsWriter w = new SafeTensorsWriter();
            HfLlama.tensors(d).forEach(w::add);
            w.add(SafeTensorsWriter.Tensor.f32("model.layers.7.extra.weight", new long[] {1}, new float[] {0}));
            w.write(tmp.resolve("model.safetensors"));
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> HfLlama.load(tmp, m, DataType.FLOAT32));
            assertEquals(tmp + ": unexpected tensors for this config, e.g. 'model.layers.7.extra.weight' (1 in all)",
                    e.getMessage());
        }
    }

    @Test
    void integerTensorWhereWeightsBelongIsRefused() {
        LlmConfig c = LlmConfig.llama(40, 16, 24, 1, 4, 2, 32, true);
        try (NDManager m = TestSupport.root().newSubManager()) {
            Decoder d = Decoder.init(c, m, DataType.FLOAT32);
            SafeTensorsWriter w = new SafeTensorsWriter();
            for (SafeTensorsWriter.Tensor t : HfLlama.tensors(d)) {
                w.add(t.name().equals(Decoder.NORM)
                        ? SafeTensorsWriter.Tensor.i64(t.name(), t.shape(), new long[16]) : t);
            }
            HfLlama.save(d, tmp);
            w.write(tmp.resolve("model.safetensors"));
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> HfLlama.load(tmp, m, DataType.FLOAT32));
            assertEquals(tmp.resolve("model.safetensors") + ": tensor 'model.norm.weight' has dtype I64, expected a "
                    + "floating-point dtype", e.getMessage());
        }
    }
}
