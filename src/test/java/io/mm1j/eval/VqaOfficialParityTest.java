package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.data.VqaReader;
import io.mm1j.io.JsonFiles;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@code mm1 score vqa} against the official GT-Vision-Lab/VQA evaluation run unmodified (Python 2.7) on hand-made
 * hard cases, one per normalisation and scoring rule: {@code src/test/resources/vqa-official/make_reference.py}
 * wrote the cases and {@code expected.json} (the official {@code accuracy} and {@code evalQA} of a013f00 and of
 * 458a8b2). Every figure must be equal, not close.
 */
class VqaOfficialParityTest {
    private static final Path DIR = Path.of("src/test/resources/vqa-official");

    private static void check(VqaVariant variant, String key) {
        Path results = DIR.resolve("results.json");
        VqaAccuracy acc = VqaAccuracy.evaluate(variant, VqaReader.readAnnotations(DIR.resolve("annotations.json")),
                VqaReader.readQuestions(DIR.resolve("questions.json")), VqaAccuracy.readResults(results), results);
        JsonNode expected = JsonFiles.read(DIR.resolve("expected.json")).get(key);
        JsonNode official = expected.get("accuracy");
        assertEquals(official.get("overall").doubleValue(), acc.overall(), 0.0, "overall");
        assertEquals(map(official.get("perAnswerType")), new TreeMap<>(acc.perAnswerType()));
        assertEquals(map(official.get("perQuestionType")), new TreeMap<>(acc.perQuestionType()));
        assertEquals(map(expected.get("evalQA")), new TreeMap<>(acc.perQuestion()));
    }

    private static Map<String, Double> map(JsonNode o) {
        Map<String, Double> m = new TreeMap<>();
        o.properties().forEach(e -> m.put(e.getKey(), e.getValue().doubleValue()));
        return m;
    }

    @Test
    void officialVariantEqualsVqaEvalAtA013f00() {
        check(VqaVariant.OFFICIAL, "official");
    }

    @Test
    void legacyVariantEqualsVqaEvalBeforeA013f00() {
        check(VqaVariant.LEGACY, "legacy");
    }
}
