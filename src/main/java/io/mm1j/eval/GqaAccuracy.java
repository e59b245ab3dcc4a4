package io.mm1j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * GQA accuracy as GQA's {@code eval.py} defines it: exact string equality between prediction and the single gold
 * answer (no normalisation), over the questions marked {@code isBalanced} (all of them when the flag is absent),
 * reported ×100. Questions: {@code {"<questionId>": {"answer": str, "isBalanced": bool, ...}}}; predictions:
 * {@code [{"questionId": str, "prediction": str}]}.
 *
 * <p>Follows {@code eval.py} of GQA's evaluation package (gqadataset.org, v1.2; not in a public repository), accuracy
 * only: its consistency, validity, plausibility and distribution metrics need scene graphs and are not computed.
 */
public final class GqaAccuracy {
    private GqaAccuracy() {}

    public static Map<String, String> readPredictions(Path file) {
        JsonNode list = JsonFiles.array(file, JsonFiles.read(file), "a predictions file");
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            String id = JsonFiles.text(file, list.get(i), i, "questionId");
            if (out.put(id, JsonFiles.text(file, list.get(i), i, "prediction")) != null) {
                throw new Mm1Exception(file + ": entry " + i + ": duplicate questionId " + id);
            }
        }
        return out;
    }

    /** Percentage of balanced questions whose prediction equals the answer exactly. */
    public static double evaluate(Path questionsFile, Map<String, String> predictions, Path predictionsFile) {
        JsonNode root = JsonFiles.read(questionsFile);
        if (!root.isObject()) {
            throw new Mm1Exception(questionsFile + ": expected a JSON object keyed by question id");
        }
        int total = 0;
        int correct = 0;
        for (Map.Entry<String, JsonNode> q : root.properties()) {
            if (!q.getValue().path("isBalanced").asBoolean(true)) {
                continue;
            }
            JsonNode gold = q.getValue().get("answer");
            if (gold == null || !gold.isTextual()) {
                throw new Mm1Exception(questionsFile + ": question " + q.getKey() + " has no string \"answer\"");
            }
            String predicted = predictions.get(q.getKey());
            if (predicted == null) {
                throw new Mm1Exception(predictionsFile + ": no prediction for questionId " + q.getKey());
            }
            total++;
            correct += predicted.equals(gold.textValue()) ? 1 : 0;
        }
        if (total == 0) {
            throw new Mm1Exception(questionsFile + ": no balanced questions to score");
        }
        return 100.0 * correct / total;
    }
}
