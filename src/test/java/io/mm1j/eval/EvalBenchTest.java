package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.bench.EvalBench;
import io.mm1j.io.JsonFiles;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@code mm1 bench eval}'s workload once at full size (5,000 × 5) and checks its CIDEr-D against coco-caption's
 * own scorer on the same captions ({@code src/test/resources/eval-bench/reference_cider.py}, which rebuilds them
 * from java.util.Random's algorithm and runs pycocoevalcap; its output is {@code expected.json}). No timing
 * assertion: the figure is logged. BLEU-1..4 and ROUGE-L are checked the same way on the first 500 images.
 */
class EvalBenchTest {
    private static final Logger LOG = LoggerFactory.getLogger(EvalBenchTest.class);

    @Test
    void ciderOnFiveThousandImagesEqualsCocoCaption() {
        JsonNode expected = JsonFiles.read(Path.of("src/test/resources/eval-bench/expected.json"));
        ObjectNode a = EvalBench.run(expected.get("images").asInt(), expected.get("refsPerImage").asInt(),
                expected.get("seed").asLong());
        LOG.info("bench eval: {}", a);
        assertEquals(5000, a.get("images").asInt());
        // only the order of summing 5,000 per-image scores differs (numpy's mean vs Java's)
        assertEquals(expected.get("cider").asDouble(), a.get("cider").asDouble(), 1e-12);
    }

    @Test
    void bleuAndRougeOnTheBenchCaptionsEqualCocoCaption() {
        JsonNode expected = JsonFiles.read(Path.of("src/test/resources/eval-bench/expected.json"));
        EvalBench.Captions c = EvalBench.captions(500, 5, expected.get("seed").asLong());
        // the first 500 images of the seeded stream are the first 500 of the full run
        CaptionScores s = CaptionScores.of(EvalBench.tokenize(c.candidates()),
                EvalBench.tokenizeAll(c.references()));
        JsonNode ref = expected.get("first500");
        for (int n = 0; n < 4; n++) {
            assertEquals(ref.get("Bleu").get(n).asDouble(), s.bleu()[n], 1e-12, "Bleu_" + (n + 1));
        }
        assertEquals(ref.get("ROUGE_L").asDouble(), s.rougeL(), 1e-12);
        assertEquals(expected.get("firstCandidate").asText(), String.join(" ",
                EvalBench.tokenize(c.candidates()).get(0)));
    }
}
