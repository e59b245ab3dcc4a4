package io.mm1j.llava;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.TestSupport;
import io.mm1j.data.SynthWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 eval} on a LLaVA-NeXT folder: few-shot prompts with size-dependent image token counts. */
class LlavaEvalTest {
    @TempDir
    Path tmp;

    @Test
    void fewShotVqaRunsOnALlavaNextFolder() throws Exception {
        Path synth = tmp.resolve("synth");
        SynthWriter.write(synth, 12, 32, 5);
        Path out = tmp.resolve("eval");
        TestSupport.CliRun r = TestSupport.cli("eval", "--model",
                LlavaParityTest.FIXTURES.resolve("llava-next-legacy").toString(), "--task", "vqav2", "--shots", "4",
                "--data", synth.toString(), "--out", out.toString(), "--limit", "3", "--log-samples");
        assertEquals(0, r.code(), r.err());
        List<String> samples = Files.readAllLines(out.resolve("samples.jsonl"));
        assertEquals(3, samples.size());
        JsonNode first = new ObjectMapper().readTree(samples.get(0));
        // 4 demonstrations and the query, each picture one <image> slot; the splice checks that every slot got
        // exactly its picture's count (24 tokens: 32 px on a 2x2 tile grid, nothing unpadded)
        assertEquals(5, first.get("prompt").asText().split("<image>", -1).length - 1);
        JsonNode scores = new ObjectMapper().readTree(out.resolve("scores.json").toFile());
        assertTrue(scores.at("/metrics/overall").isNumber(), scores.toString());
        LlavaConfig c = LlavaConfig.read(LlavaParityTest.FIXTURES.resolve("llava-next-legacy/config.json"));
        assertEquals(24, AnyRes.tokens(32, 32, c.gridPinpoints(), c.vision().imageSize(), c.vision().gridSize()));
    }
}
