package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.data.SynthWriter;
import io.mm1j.data.VqaReader;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The synthetic world's VQA split is scorable like VQAv2: answering every question with its consensus answer
 * scores 100 under both official variants. (With counts written as words, "four" against ten "four" scored 0 under
 * the legacy code, which maps the prediction to "4" but leaves the humans' words alone.)
 */
class SyntheticVqaScoreTest {
    @TempDir
    Path tmp;

    @Test
    void perfectAnswersScore100UnderBothVariants() {
        Path synth = tmp.resolve("synth");
        SynthWriter.write(synth, 40, 32, 11);
        Path questions = synth.resolve("vqa/questions_val.json");
        Map<Long, VqaReader.Annotation> anns = VqaReader.readAnnotations(synth.resolve("vqa/annotations_val.json"));
        Map<Long, String> perfect = new LinkedHashMap<>();
        anns.values().forEach(a -> perfect.put(a.questionId(), a.multipleChoiceAnswer()));
        assertTrue(anns.values().stream().anyMatch(a -> a.questionType().equals("how many")
                && a.multipleChoiceAnswer().matches("[0-9]+")), "count answers are digits");
        for (VqaVariant v : new VqaVariant[] {VqaVariant.OFFICIAL, VqaVariant.LEGACY}) {
            VqaAccuracy acc = VqaAccuracy.evaluate(v, anns, VqaReader.readQuestions(questions), perfect, questions);
            assertEquals(100.0, acc.overall(), 0.0, v.cliName());
        }
    }
}
