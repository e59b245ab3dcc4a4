package io.mm1j.data;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * VQAv2: a questions file ({@code questions[{image_id, question, question_id}]}, {@code data_subtype}) and an
 * optional annotations file ({@code annotations[{question_id, answers[{answer, ...}×10], multiple_choice_answer,
 * answer_type, ...}]}; the test split has none). Images are looked up in {@code imageDir} under VQAv2's COCO names
 * ({@code COCO_<data_subtype>_<id:012d>.jpg}) or plain COCO 2017 / synthetic names ({@code <id:012d>.jpg|png}).
 */
public final class VqaReader extends SampleReader {
    static final Set<String> QUESTION_FIELDS = Set.of("image_id", "question", "question_id");
    static final Set<String> ANNOTATION_FIELDS = Set.of("question_type", "multiple_choice_answer", "answers",
            "image_id", "answer_type", "question_id");

    private final Path questionsFile;
    private final Path imageDir;
    private final JsonNode questions;
    private final String subtype;
    private final Map<Long, JsonNode> annotations = new HashMap<>();
    private int index;

    /** @param annotationsFile null for questions without answers (test-dev) */
    public VqaReader(Path questionsFile, Path annotationsFile, Path imageDir, SkipReport skips) {
        super(questionsFile.toString(), skips);
        if (imageDir == null) {
            throw new Mm1Exception(questionsFile + ": VQA questions need the folder of their COCO images");
        }
        this.questionsFile = questionsFile;
        this.imageDir = imageDir;
        JsonNode q = Json.readFile(questionsFile);
        questions = q.path("questions");
        if (!questions.isArray()) {
            throw new Mm1Exception(questionsFile + ": not VQAv2 questions (needs a 'questions' array)");
        }
        subtype = q.path("data_subtype").asText("");
        // data_subtype becomes part of an image file name (COCO_<data_subtype>_<id>.jpg): keep it a plain name.
        if (!subtype.matches("[A-Za-z0-9_.-]*") || subtype.contains("..")) {
            throw new Mm1Exception(questionsFile + ": data_subtype '" + subtype + "' is not a plain name (letters, "
                    + "digits, '_', '-', '.')");
        }
        if (annotationsFile != null) {
            JsonNode anns = Json.readFile(annotationsFile).path("annotations");
            if (!anns.isArray()) {
                throw new Mm1Exception(annotationsFile + ": not VQAv2 annotations (needs an 'annotations' array)");
            }
            Map<Long, Integer> firstIndex = new HashMap<>();
            for (int i = 0; i < anns.size(); i++) {
                JsonNode a = anns.get(i);
                String where = annotationsFile + ": annotations[" + i + "]";
                Json.checkFields(a, ANNOTATION_FIELDS, where, skips);
                String problem = answersProblem(a);
                if (problem != null) {
                    skips.skip(SkipReport.BAD_RECORD, where, problem);
                    continue;
                }
                long qid = a.get("question_id").asLong();
                Integer first = firstIndex.putIfAbsent(qid, i);
                if (first != null) {
                    skips.skip(SkipReport.BAD_RECORD, where, "duplicate question_id " + qid + " (first at "
                            + "annotations[" + first + "])");
                    continue;
                }
                annotations.put(qid, a);
            }
        }
    }

    @Override
    protected Sample readNext() {
        while (index < questions.size()) {
            int i = index++;
            JsonNode q = questions.get(i);
            String where = questionsFile + ": questions[" + i + "]";
            Json.checkFields(q, QUESTION_FIELDS, where, skips);
            if (!q.path("question").isTextual() || !q.path("image_id").canConvertToLong()) {
                skips.skip(SkipReport.BAD_RECORD, where, "needs image_id and question");
                continue;
            }
            long imageId = q.get("image_id").asLong();
            String name = findImage(imageId);
            if (name == null) {
                skips.skip(SkipReport.MISSING_IMAGE, where, "image " + imageId + " not in " + imageDir);
                continue;
            }
            ImageRef img = ImageStore.file(imageDir, name, where, skips);
            if (img == null) {
                continue;
            }
            long qid = q.path("question_id").asLong();
            JsonNode a = annotations.get(qid);
            List<String> answers = new ArrayList<>();
            String answer = null;
            String type = null;
            if (a != null) {
                a.path("answers").forEach(x -> answers.add(x.path("answer").asText()));
                answer = a.path("multiple_choice_answer").asText(null);
                type = a.path("answer_type").asText(null);
            } else if (!annotations.isEmpty()) {
                skips.skip(SkipReport.BAD_RECORD, where, "question " + qid + " has no annotation");
                continue;
            }
            return new Sample.Vqa(String.valueOf(qid), img, q.get("question").asText(), answer,
                    List.copyOf(answers), type);
        }
        return null;
    }

    /**
     * Why an annotation cannot be trained or scored on, or null. VQA accuracy is min(#humans that said it / 3, 1)
     * over the human answers, so an annotation without answers has no defined score.
     */
    static String answersProblem(JsonNode a) {
        if (!a.path("question_id").canConvertToLong()) {
            return "needs a numeric question_id";
        }
        JsonNode answers = a.path("answers");
        if (!answers.isArray() || answers.isEmpty()) {
            return "question " + a.get("question_id").asLong() + " has no answers (needs a non-empty 'answers' "
                    + "array)";
        }
        for (int j = 0; j < answers.size(); j++) {
            if (!answers.get(j).path("answer").isTextual()) {
                return "answers[" + j + "] has no text 'answer'";
            }
        }
        return null;
    }

    private String findImage(long id) {
        return imageName(imageDir, subtype, id);
    }

    /**
     * The first of VQAv2's, COCO 2017's and the synthetic world's names under which image {@code id} exists in
     * {@code imageDir}, or null.
     */
    public static String imageName(Path imageDir, String subtype, long id) {
        for (String name : new String[] {String.format("COCO_%s_%012d.jpg", subtype, id),
                String.format("%012d.jpg", id), String.format("%012d.png", id)}) {
            if (ImageStore.exists(imageDir, name)) {
                return name;
            }
        }
        return null;
    }

    // Strict whole-file readers, for evaluation: a bad entry is an error naming file, entry and field, never a
    // skip, because a score over a silently different set is not comparable with published ones.

    /** A VQAv2 question; {@code multipleChoices} is empty unless the file is a VQA v1 multiple-choice one. */
    public record Question(long questionId, long imageId, String question, List<String> multipleChoices) {}

    /** A questions file: questions by id, in file order, and its {@code data_subtype} / {@code task_type}. */
    public record Questions(Map<Long, Question> byId, String dataSubtype, String taskType) {}

    /**
     * One human answer: its text and the whole answer object it came from ({@code answer}, {@code answer_id},
     * {@code answer_confidence}, …). The official evaluation tells annotators apart by comparing whole objects.
     */
    public record Answer(String answer, JsonNode record) {}

    /** A VQAv2 annotation; {@code multipleChoiceAnswer} may be null. */
    public record Annotation(long questionId, long imageId, String questionType, String answerType,
            String multipleChoiceAnswer, List<Answer> answers) {}

    public static Questions readQuestions(Path file) {
        JsonNode root = JsonFiles.read(file);
        JsonNode list = JsonFiles.field(file, root, "questions");
        Map<Long, Question> out = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode q = list.get(i);
            long id = JsonFiles.id(file, q, i, "question_id");
            List<String> choices = new ArrayList<>();
            if (q.has("multiple_choices")) {
                JsonNode mc = JsonFiles.array(file, q.get("multiple_choices"), "entry " + i + ": \"multiple_choices\"");
                mc.forEach(c -> choices.add(c.asText()));
            }
            Question prev = out.put(id, new Question(id, JsonFiles.id(file, q, i, "image_id"),
                    JsonFiles.text(file, q, i, "question"), List.copyOf(choices)));
            if (prev != null) {
                throw new Mm1Exception(file + ": entry " + i + ": duplicate question_id " + id);
            }
        }
        return new Questions(out, root.path("data_subtype").asText(""), root.path("task_type").asText(""));
    }

    public static Map<Long, Annotation> readAnnotations(Path file) {
        JsonNode list = JsonFiles.field(file, JsonFiles.read(file), "annotations");
        Map<Long, Annotation> out = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode a = list.get(i);
            long id = JsonFiles.id(file, a, i, "question_id");
            String where = file + ": entry " + i + " (question_id " + id + ")";
            JsonNode answers = JsonFiles.array(file, a.get("answers"), "entry " + i + " (question_id " + id
                    + "): \"answers\"");
            List<Answer> parsed = new ArrayList<>(answers.size());
            for (int j = 0; j < answers.size(); j++) {
                JsonNode ans = answers.get(j);
                if (!ans.isObject() || !ans.path("answer").isTextual()) {
                    throw new Mm1Exception(where + " answer " + j + ": needs a string \"answer\"");
                }
                parsed.add(new Answer(ans.get("answer").textValue(), ans));
            }
            if (parsed.isEmpty()) {
                throw new Mm1Exception(where + " has no answers");
            }
            String mc = a.path("multiple_choice_answer").isTextual() ? a.get("multiple_choice_answer").textValue()
                    : null;
            Annotation prev = out.put(id, new Annotation(id, JsonFiles.id(file, a, i, "image_id"),
                    JsonFiles.text(file, a, i, "question_type"), JsonFiles.text(file, a, i, "answer_type"), mc,
                    List.copyOf(parsed)));
            if (prev != null) {
                throw new Mm1Exception(file + ": entry " + i + ": duplicate question_id " + id);
            }
        }
        return out;
    }
}
