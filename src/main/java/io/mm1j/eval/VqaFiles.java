package io.mm1j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Readers for the VQAv2 formats: questions {@code {"questions": [{question_id, image_id, question}]}}, annotations
 * {@code {"annotations": [{question_id, image_id, answer_type, question_type, multiple_choice_answer,
 * answers: [{answer, answer_id}]}]}} and results {@code [{"question_id": int, "answer": str}]}.
 */
public final class VqaFiles {
    private VqaFiles() {}

    public record Question(long questionId, long imageId, String question) {}

    /** One human answer; {@code answerId} tells apart identical strings from different annotators. */
    public record Answer(String answer, long answerId) {}

    public record Annotation(long questionId, String answerType, String questionType, List<Answer> answers,
            String multipleChoiceAnswer) {}

    public static Map<Long, Question> readQuestions(Path file) {
        JsonNode list = JsonFiles.field(file, JsonFiles.read(file), "questions");
        Map<Long, Question> out = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode q = list.get(i);
            long id = JsonFiles.id(file, q, i, "question_id");
            Question prev = out.put(id, new Question(id, JsonFiles.id(file, q, i, "image_id"),
                    JsonFiles.text(file, q, i, "question")));
            if (prev != null) {
                throw new Mm1Exception(file + ": entry " + i + ": duplicate question_id " + id);
            }
        }
        return out;
    }

    public static Map<Long, Annotation> readAnnotations(Path file) {
        JsonNode list = JsonFiles.field(file, JsonFiles.read(file), "annotations");
        Map<Long, Annotation> out = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode a = list.get(i);
            long id = JsonFiles.id(file, a, i, "question_id");
            JsonNode answers = JsonFiles.array(file, a.get("answers"), "entry " + i + " (question_id " + id
                    + "): \"answers\"");
            List<Answer> parsed = new ArrayList<>(answers.size());
            for (int j = 0; j < answers.size(); j++) {
                String where = "entry " + i + " (question_id " + id + ") answer " + j;
                JsonNode ans = answers.get(j);
                if (!ans.isObject() || !ans.path("answer").isTextual()) {
                    throw new Mm1Exception(file + ": " + where + ": needs a string \"answer\"");
                }
                parsed.add(new Answer(ans.get("answer").textValue(), ans.path("answer_id").asLong(j + 1)));
            }
            if (parsed.isEmpty()) {
                throw new Mm1Exception(file + ": entry " + i + " (question_id " + id + ") has no answers");
            }
            String mc = a.path("multiple_choice_answer").isTextual() ? a.get("multiple_choice_answer").textValue()
                    : null;
            Annotation prev = out.put(id, new Annotation(id, JsonFiles.text(file, a, i, "answer_type"),
                    JsonFiles.text(file, a, i, "question_type"), List.copyOf(parsed), mc));
            if (prev != null) {
                throw new Mm1Exception(file + ": entry " + i + ": duplicate question_id " + id);
            }
        }
        return out;
    }

    /** Predicted answer per question id; duplicates are an error. */
    public static Map<Long, String> readResults(Path file) {
        JsonNode list = JsonFiles.array(file, JsonFiles.read(file), "a results file");
        Map<Long, String> out = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            long id = JsonFiles.id(file, list.get(i), i, "question_id");
            if (out.put(id, JsonFiles.text(file, list.get(i), i, "answer")) != null) {
                throw new Mm1Exception(file + ": entry " + i + ": duplicate question_id " + id);
            }
        }
        return out;
    }
}
