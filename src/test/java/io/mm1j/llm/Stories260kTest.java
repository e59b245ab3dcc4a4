package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.TestSupport;
import io.mm1j.cli.GenerateCommand;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real pretrained stories260K Llama (GQA, tied embeddings) in HF format against values from independent
 * implementations: a float64 numpy forward pass (reference_logits.json), llama2.c's encoder (tokenizer_cases.json)
 * and llama2.c's run.c greedy output (test_all.py's expected_stdout).
 */
class Stories260kTest {
    private NDManager m;
    private Path dir;

    @TempDir
    Path tmp;

    @BeforeEach
    void setUp() {
        dir = TestSupport.sharedData("stories260k");
        m = TestSupport.root().newSubManager();
    }

    @AfterEach
    void tearDown() {
        if (m != null) { // null when setUp skipped the test (no shared data)
            m.close();
        }
    }

    @Test
    void logitsMatchTheIndependentFloat64Reference() throws IOException {
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference_logits.json").toFile());
        long[] ids = new long[ref.get("input_ids").size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = ref.get("input_ids").get(i).asLong();
        }
        try (Decoder d = HfLlama.load(dir, m, DataType.FLOAT32)) {
            NDArray logits = d.forward(m.create(ids, new Shape(1, ids.length))).logits(); // (1, T, 512)
            float[] all = logits.toFloatArray();
            int v = d.config().vocabSize();
            double worst = 0;
            for (JsonNode pos : ref.get("positions")) {
                int p = pos.get("pos").asInt();
                for (int j = 0; j < 5; j++) {
                    int id = pos.get("top5_ids").get(j).asInt();
                    worst = Math.max(worst, Math.abs(all[p * v + id] - pos.get("top5_logits").get(j).asDouble()));
                }
                int[] ours = topIds(Arrays.copyOfRange(all, p * v, (p + 1) * v), 5);
                for (int j = 0; j < 5; j++) {
                    assertEquals(pos.get("top5_ids").get(j).asInt(), ours[j], "top-5 order at position " + p);
                }
            }
            JsonNode pos0 = ref.get("logits_pos0_full_float64");
            assertEquals(v, pos0.size());
            for (int i = 0; i < v; i++) {
                worst = Math.max(worst, Math.abs(all[i] - pos0.get(i).asDouble()));
            }
            assertTrue(worst <= 1e-4, "max |Δlogit| = " + worst);
        }
    }

    private static int[] topIds(float[] row, int k) {
        Integer[] idx = new Integer[row.length];
        for (int i = 0; i < row.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Float.compare(row[b], row[a]));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    @Test
    void tokenizerReproducesLlama2cEncodings() throws IOException {
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("tokenizer_cases.json").toFile()).get("cases");
        assertTrue(cases.size() > 0);
        try (Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"))) {
            for (JsonNode c : cases) {
                String text = c.get("text").asText();
                long[] expected = new long[c.get("ids_with_bos").size()];
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = c.get("ids_with_bos").get(i).asLong();
                }
                long[] body = tok.encode(text);
                long[] ours = new long[body.length + 1];
                ours[0] = 1;
                System.arraycopy(body, 0, ours, 1, body.length);
                assertArrayEquals(expected, ours, "ids of \"" + text + "\"");
                assertEquals(text, tok.decode(body), "decode round trip");
            }
        }
    }

    @Test
    void greedyStoryEqualsLlama2cRunC() throws IOException {
        String expected;
        try (InputStream in = getClass().getResourceAsStream("/stories260k_greedy200.txt")) {
            expected = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try (Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"))) {
            try (Decoder d = HfLlama.load(dir, m, DataType.FLOAT32)) {
                StringBuilder streamed = new StringBuilder();
                String text = GenerateCommand.generate(d, tok, "", io.mm1j.mllm.GenerationConfig.greedy(200), streamed::append);
                assertEquals(expected, text);
                assertEquals(text, streamed.toString(), "streamed pieces add up to the final text");
            }
        }
    }

    @Test
    void exportRoundTripIsBitExact() throws IOException {
        try (Decoder d = HfLlama.load(dir, m, DataType.FLOAT32)) {
            Path out = tmp.resolve("export");
            HfLlama.save(d, out);
            Files.copy(dir.resolve("tokenizer.json"), out.resolve("tokenizer.json"));
            try (SafeTensors a = SafeTensors.open(dir.resolve("model.safetensors"));
                 SafeTensors b = SafeTensors.open(out.resolve("model.safetensors"))) {
                assertEquals(a.entries().keySet(), b.entries().keySet());
                for (String name : a.names()) {
                    assertEquals(a.raw(name), b.raw(name), "bytes of " + name);
                    assertArrayEquals(a.entry(name).shape(), b.entry(name).shape(), "shape of " + name);
                }
            }
            assertEquals(d.config(), HfLlama.readConfig(out.resolve("config.json")));
        }
    }

    @Test
    void configThatDisagreesWithTheWeightsIsRefusedNamingFileAndTensor() throws IOException {
        Path bad = tmp.resolve("bad");
        Files.createDirectories(bad);
        Files.copy(dir.resolve("model.safetensors"), bad.resolve("model.safetensors"));
        String cfg = Files.readString(dir.resolve("config.json")).replace("\"intermediate_size\": 172",
                "\"intermediate_size\": 180");
        Files.writeString(bad.resolve("config.json"), cfg);
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> HfLlama.load(bad, m, DataType.FLOAT32));
        assertEquals(bad.resolve("model.safetensors") + ": tensor 'model.layers.0.mlp.gate_proj.weight' has shape "
                + "(172, 64) but the config needs (180, 64)", e.getMessage());
    }

    @Test
    void unknownArchitectureIsRefused() throws IOException {
        Path bad = tmp.resolve("gpt2");
        Files.createDirectories(bad);
        Files.writeString(bad.resolve("config.json"), "{\"architectures\": [\"GPT2LMHeadModel\"], "
                + "\"model_type\": \"gpt2\"}");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> HfLlama.load(bad, m, DataType.FLOAT32));
        assertEquals(bad.resolve("config.json") + ": unsupported architecture 'GPT2LMHeadModel' (model_type 'gpt2');"
                + " mm1j loads [LlamaForCausalLM, MistralForCausalLM, MixtralForCausalLM]", e.getMessage());
    }
}
