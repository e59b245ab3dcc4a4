package io.mm1j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import io.mm1j.llm.HfLlama;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Config files: integers must be integers, sizes have limits, and every message names the file and the key. */
class ConfigValidationTest {
    @TempDir
    Path dir;

    /** The tiny-test preset's JSON with {@code from} replaced by {@code to}. */
    private Path tinyWith(String from, String to) throws Exception {
        String json = Presets.toJson(Presets.load("tiny-test"));
        if (!json.contains(from)) {
            throw new AssertionError("tiny-test JSON has no " + from);
        }
        return Files.writeString(dir.resolve("config.json"), json.replace(from, to));
    }

    private static String error(Path f) {
        return assertThrows(Mm1Exception.class, () -> Presets.read(f)).getMessage();
    }

    @Test
    void fractionsAndStringsAreNotIntegers() throws Exception {
        Path f = tinyWith("\"hiddenSize\" : 32,", "\"hiddenSize\" : 32.5,");
        assertEquals(f + ": llm.hiddenSize must be an integer, got 32.5", error(f));
        Path g = tinyWith("\"patchSize\" : 8,", "\"patchSize\" : \"8\",");
        assertEquals(g + ": vision.patchSize must be an integer, got \"8\"", error(g));
        Path h = tinyWith("\"numLayers\" : 2,", "\"numLayers\" : null,");
        assertEquals(h + ": llm.numLayers must be an integer, got null", error(h));
    }

    @Test
    void recordValidationMessagesAndUnknownKeysNameTheFile() throws Exception {
        Path f = tinyWith("\"imageSize\" : 32,", "\"imageSize\" : 1000000,");
        assertEquals(f + ": vision.imageSize 1000000 is above the limit of 4096 px", error(f));
        Path g = tinyWith("\"patchSize\" : 8,", "\"patchSize\" : 8, \"patchsize\" : 8,");
        assertEquals(g + ": unknown key vision.patchsize (known here: activation, featureLayer, heads, imageSize, "
                + "layerNormEps, layers, mlpDim, patchSize, width)", error(g));
    }

    /**
     * A bad enum, boolean, number or object value is named by key, value as written and what the key takes; Jackson's
     * wording ("Cannot coerce … to `java.lang.Boolean`", "Cannot construct instance of `io.mm1j…`") never shows.
     */
    @Test
    void badValuesNameTheKeyTheValueAndWhatTheKeyTakes() throws Exception {
        Path f = tinyWith("\"type\" : \"avgpool\",", "\"type\" : 5,");
        assertEquals(f + ": connector.type must be one of [avgpool, attnpool, c-abstractor, mlp], got 5", error(f));
        f = tinyWith("\"squeezeExcitation\" : true,", "\"squeezeExcitation\" : \"yes\",");
        assertEquals(f + ": connector.squeezeExcitation must be true or false, got \"yes\"", error(f));
        f = tinyWith("\"rmsNormEps\" : 1.0E-5,", "\"rmsNormEps\" : \"small\",");
        assertEquals(f + ": llm.rmsNormEps must be a number, got \"small\"", error(f));
        f = tinyWith("\"imageSize\" : 32,", "\"imageSize\" : 3.2e1,");
        assertEquals(f + ": vision.imageSize must be an integer, got 3.2e1", error(f));
        f = tinyWith("\"hiddenSize\" : 32,", "\"hiddenSize\" : 99999999999,");
        assertEquals(f + ": llm.hiddenSize must be an integer from -2147483648 to 2147483647, got 99999999999",
                error(f));
        f = tinyWith("\"layers\" : 1,", "\"layers\" : [1],");
        assertEquals(f + ": vision.layers must be an integer, got [1]", error(f));
        String json = Presets.toJson(Presets.load("tiny-test")).replaceFirst("\"vision\" : \\{[^}]*\\}",
                "\"vision\" : 5");
        Path g = Files.writeString(dir.resolve("config.json"), json);
        assertEquals(g + ": vision must be an object, got 5", error(g));
    }

    @Test
    void hugeSizesAreRefusedBeforeAnythingIsAllocated() {
        assertEquals("vision: imageSize / patchSize = 512 patches per side, above the limit of 256",
                assertThrows(Mm1Exception.class,
                        () -> new VisionConfig(4096, 8, 32, 1, 2, 64, "gelu", 1e-5, -1)).getMessage());
        assertEquals("llm.maxPositions must be within [1, 1048576], got 2147483647",
                assertThrows(Mm1Exception.class, () -> LlmConfig.llama(288, 32, 64, 1, 4, 2, Integer.MAX_VALUE,
                        false)).getMessage());
    }

    @Test
    void huggingFaceConfigIntegersAreChecked() throws Exception {
        Path f = Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"LlamaForCausalLM\"], "
                + "\"hidden_size\": 32.5, \"num_attention_heads\": 4, \"vocab_size\": 64, \"intermediate_size\": 64, "
                + "\"num_hidden_layers\": 1}");
        assertEquals(f + ": 'hidden_size' must be an integer, got 32.5",
                assertThrows(Mm1Exception.class, () -> HfLlama.readConfig(f)).getMessage());
        Files.writeString(f, "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 32, "
                + "\"num_attention_heads\": 4, \"vocab_size\": 64, \"intermediate_size\": 64}");
        assertEquals(f + ": missing integer field 'num_hidden_layers'",
                assertThrows(Mm1Exception.class, () -> HfLlama.readConfig(f)).getMessage());
        Files.writeString(f, "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 32, "
                + "\"num_attention_heads\": 4, \"vocab_size\": 64, \"intermediate_size\": 64, \"num_hidden_layers\": 1,"
                + " \"eos_token_id\": [2, 3.5]}");
        assertEquals(f + ": 'eos_token_id' must hold integers, got 3.5",
                assertThrows(Mm1Exception.class, () -> HfLlama.readConfig(f)).getMessage());
    }
}
