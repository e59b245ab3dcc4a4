package io.mm1j.data;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
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

    /** The first of VQAv2's, COCO 2017's and the synthetic world's names under which image {@code id} exists. */
    private String findImage(long id) {
        for (String name : new String[] {String.format("COCO_%s_%012d.jpg", subtype, id),
                String.format("%012d.jpg", id), String.format("%012d.png", id)}) {
            if (ImageStore.exists(imageDir, name)) {
                return name;
            }
        }
        return null;
    }
}
