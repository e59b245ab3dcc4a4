package io.mm1j.llava;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.TestSupport;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A broken LLaVA folder fails with one line that names the file and the key. */
class LlavaFolderErrorTest {
    @TempDir
    Path tmp;

    /** A copy of the single-file, new-layout fixture with its config edited. */
    private Path folder(Consumer<ObjectNode> edit) throws IOException {
        Path dir = tmp.resolve("llava");
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(LlavaParityTest.FIXTURES.resolve("llava15-new"))) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        edit.accept(cfg);
        Files.writeString(dir.resolve("config.json"), json.writeValueAsString(cfg));
        return dir;
    }

    private static String loadError(Path dir) {
        try (NDManager m = TestSupport.root().newSubManager()) {
            return assertThrows(Mm1Exception.class, () -> Mm1Model.load(dir, m, DataType.FLOAT32)).getMessage();
        }
    }

    @Test
    void missingProjectorNamesTheWeightsFileAndTensor() throws IOException {
        Path dir = folder(c -> {});
        Path weights = dir.resolve("model.safetensors");
        SafeTensorsWriter out = new SafeTensorsWriter();
        try (SafeTensors st = SafeTensors.open(weights)) {
            for (SafeTensors.Entry e : st.entries().values()) {
                if (!e.name().startsWith("model.multi_modal_projector.")) {
                    out.add(new SafeTensorsWriter.Tensor(e.name(), e.dtype(), e.shape(), st.raw(e.name())));
                }
            }
        }
        out.write(weights);
        assertEquals(weights + ": tensor 'model.multi_modal_projector.linear_1.weight' is missing (the multimodal "
                + "projector)", loadError(dir));
    }

    @Test
    void visionWidthOtherThanTheProjectorInputIsRefused() throws IOException {
        Path dir = folder(c -> ((ObjectNode) c.get("vision_config")).put("hidden_size", 24));
        assertEquals(dir.resolve("config.json") + ": vision_config.hidden_size 24 does not match the projector's "
                + "input width 16 ('model.multi_modal_projector.linear_1.weight' in model.safetensors)",
                loadError(dir));
    }

    @Test
    void unknownFeatureStrategyIsRefused() throws IOException {
        Path dir = folder(c -> c.put("vision_feature_select_strategy", "cls_patch"));
        assertEquals(dir.resolve("config.json") + ": vision_feature_select_strategy 'cls_patch' is unknown "
                + "(expected default or full)", loadError(dir));
    }

    @Test
    void imageTokenOutsideTheVocabularyIsRefused() throws IOException {
        Path dir = folder(c -> c.put("image_token_index", 48));
        assertEquals(dir.resolve("config.json") + ": image_token_index 48 is outside the vocabulary "
                + "(text_config.vocab_size 48)", loadError(dir));
    }

    @Test
    void tokenizerWhoseImageTokenDisagreesWithTheConfigIsRefused() throws IOException {
        Path dir = folder(c -> c.put("image_token_index", 40));
        try (NDManager m = TestSupport.root().newSubManager();
             Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"));
             Mm1Model model = Mm1Model.load(dir, m, DataType.FLOAT32)) {
            assertEquals(dir.resolve("tokenizer.json") + ": token <image> has id 39 but the model's "
                    + "image_token_index is 40", assertThrows(Mm1Exception.class, () -> model.imageTokenId(tok))
                    .getMessage());
        }
    }

    @Test
    void featureLayerBeyondTheTowerIsRefused() throws IOException {
        Path dir = folder(c -> c.put("vision_feature_layer", -4));
        assertEquals(dir.resolve("config.json") + ": vision_feature_layer -4 is outside the 3 hidden states of the "
                + "2-layer vision tower", loadError(dir));
    }
}
