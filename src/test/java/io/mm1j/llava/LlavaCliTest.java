package io.mm1j.llava;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.TestSupport;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code mm1 generate} and {@code mm1 info} on LLaVA folders. */
class LlavaCliTest {
    @Test
    void generateOnALlavaNextFolderPrintsTheReferenceGreedyText() throws Exception {
        Path dir = LlavaParityTest.FIXTURES.resolve("llava-next-legacy");
        JsonNode exp = LlavaParityTest.expected("llava-next-legacy");
        List<Long> greedy = new ArrayList<>();
        exp.get("greedy").forEach(n -> greedy.add(n.asLong()));
        String want;
        try (Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"))) {
            want = tok.decode(greedy.stream().mapToLong(Long::longValue).toArray());
        }
        TestSupport.CliRun r = TestSupport.cli("generate", "--model", dir.toString(), "--image",
                dir.resolve("image.png").toString(), "--prompt", exp.get("prompt").asText(), "--max-tokens",
                String.valueOf(greedy.size()));
        assertEquals(0, r.code(), r.err());
        assertEquals(want + "\n", r.out());
    }

    @Test
    void chatThroughTheFolderTemplateAnswersWithTheReferenceGreedyTokens() throws Exception {
        Path dir = LlavaParityTest.FIXTURES.resolve("llava-next-legacy");
        JsonNode exp = LlavaParityTest.expected("llava-next-legacy");
        long[] greedy = new long[exp.get("greedy").size()];
        for (int i = 0; i < greedy.length; i++) {
            greedy[i] = exp.get("greedy").get(i).asLong();
        }
        String want;
        try (Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"))) {
            want = tok.decode(greedy);
        }
        // the template renders "USER: <image>describe the picture . ASSISTANT:": the same ids as the reference
        TestSupport.CliRun r = TestSupport.cli("chat", "--model", dir.toString(), "--image",
                dir.resolve("image.png").toString(), "--max-tokens", String.valueOf(greedy.length),
                "describe the picture .");
        assertEquals(0, r.code(), r.err());
        assertEquals(want + "\n", r.out());
    }

    @Test
    void infoFromAnMm1jFolderAgreesWithTheConfigCount(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("tiny");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString()).code());
        ObjectMapper json = new ObjectMapper();
        JsonNode fromFolder = json.readTree(TestSupport.cli("info", "--model", dir.toString(), "--json").out());
        JsonNode fromPreset = json.readTree(TestSupport.cli("info", "--preset", "tiny-test", "--json").out());
        assertEquals(fromPreset.get("params"), fromFolder.get("params"));
    }

    @Test
    void infoCountsParametersFromTheWeightFiles() throws Exception {
        Path dir = LlavaParityTest.FIXTURES.resolve("llava15-new");
        TestSupport.CliRun r = TestSupport.cli("info", "--model", dir.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode params = new ObjectMapper().readTree(r.out()).get("params");
        // text: embed 48·32 + lm_head 48·32 + 1 layer (q 32·32, k/v 16·32 each, o 32·32, MLP 3·32·48, 2 norms) + norm
        long llm = 2 * 48 * 32 + (32 * 32 + 2 * 16 * 32 + 32 * 32 + 3 * 32 * 48 + 2 * 32) + 32;
        // CLIP: patch 16·3·14·14, class 16, positions 10·16, pre/post LN 4·16, 2 layers of 4·(16·16+16) + 2 LN·2·16
        // + fc1 32·16+32 + fc2 16·32+16
        long vision = 16 * 3 * 14 * 14 + 16 + 10 * 16 + 4 * 16
                + 2 * (4 * (16 * 16 + 16) + 4 * 16 + 32 * 16 + 32 + 16 * 32 + 16);
        long projector = 32 * 16 + 32 * 32; // no biases (multimodal_projector_bias false)
        assertEquals(llm, params.get("llm").asLong());
        assertEquals(vision, params.get("vision").asLong());
        assertEquals(projector, params.get("connector").asLong());
        assertEquals(llm + vision + projector, params.get("total").asLong());
    }
}
