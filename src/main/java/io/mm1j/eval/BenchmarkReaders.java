package io.mm1j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.VqaReader;
import io.mm1j.io.JsonFiles;
import io.mm1j.io.SafePaths;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Readers for the native file formats of MM1's few-shot benchmarks, each turned into {@link EvalExample}s:
 * <ul>
 * <li>COCO captions (also NoCaps and TextCaps in COCO layout): {@code images[{id, file_name, split?}]},
 *     {@code annotations[{image_id, caption}]};
 * <li>VQAv2 and OK-VQA: questions {@code questions[{question_id, image_id, question}]} plus annotations,
 *     pictures named {@code COCO_<data_subtype>_<id:012d>.jpg} or {@code <id:012d>.jpg|png};
 * <li>TextVQA: {@code {"data": [{question_id, image_id, question, answers[10]}]}}, pictures {@code <image_id>.jpg};
 * <li>VizWiz: {@code [{image, question, answers: [{answer, answer_confidence}], answer_type}]};
 * <li>GQA: {@code {"<questionId>": {imageId, question, answer, ...}}}, pictures {@code <imageId>.jpg}.
 * </ul>
 * COCO and VQAv2 files are parsed by their {@code data/} readers ({@link CocoCaptionsReader#readStrict},
 * {@link VqaReader#readQuestions}, {@link VqaReader#readAnnotations}), the formats training reads too. A picture
 * that is not on disk, or that a file names outside the image folder, is an error naming the data file and the
 * entry: an evaluation that silently skips items reports a figure on a different set.
 */
public final class BenchmarkReaders {
    private BenchmarkReaders() {}

    /** COCO-style captions grouped by the images' {@code split} field ("" when absent), in file order. */
    public static Map<String, List<EvalExample>> cocoCaptions(Path file, Path imageDir) {
        CocoCaptionsReader.Captions c = CocoCaptionsReader.readStrict(file);
        Map<String, List<EvalExample>> out = new LinkedHashMap<>();
        for (int i = 0; i < c.images().size(); i++) {
            CocoCaptionsReader.Image im = c.images().get(i);
            List<String> refs = c.references().get(im.id()).stream().map(String::strip).toList();
            if (refs.isEmpty()) {
                continue; // an image without references cannot be scored or shown
            }
            if (im.fileName() == null) {
                throw new Mm1Exception(file + ": entry " + i + " has no \"file_name\"");
            }
            Path img = image(file, i, imageDir, im.fileName());
            String id = String.valueOf(im.id());
            out.computeIfAbsent(im.split(), k -> new ArrayList<>()).add(new EvalExample(id, id, img, null, refs,
                    refs.get(0), null, null));
        }
        return out;
    }

    /** VQAv2 / OK-VQA questions with their annotations; the demonstration answer is multiple_choice_answer. */
    public static List<EvalExample> vqav2(Path questionsFile, Path annotationsFile, Path imageDir) {
        VqaReader.Questions qs = VqaReader.readQuestions(questionsFile);
        Map<Long, VqaReader.Annotation> anns = VqaReader.readAnnotations(annotationsFile);
        List<EvalExample> out = new ArrayList<>();
        int i = 0;
        for (VqaReader.Question q : qs.byId().values()) {
            VqaReader.Annotation a = anns.get(q.questionId());
            if (a == null) {
                throw new Mm1Exception(annotationsFile + ": no annotation for question_id " + q.questionId());
            }
            List<String> answers = a.answers().stream().map(VqaReader.Answer::answer).toList();
            String consensus = a.multipleChoiceAnswer() != null ? a.multipleChoiceAnswer() : mostFrequent(answers);
            String name = VqaReader.imageName(imageDir, qs.dataSubtype(), q.imageId());
            if (name == null) {
                throw new Mm1Exception(questionsFile + ": entry " + i + ": image " + q.imageId() + " not found in "
                        + imageDir);
            }
            Path img = image(questionsFile, i, imageDir, name);
            out.add(new EvalExample(String.valueOf(q.questionId()), String.valueOf(q.imageId()), img, q.question(),
                    answers, consensus, a.answerType(), a.questionType()));
            i++;
        }
        return out;
    }

    /** TextVQA: {@code data[{question_id, image_id, question, answers}]}. */
    public static List<EvalExample> textVqa(Path file, Path imageDir) {
        JsonNode data = JsonFiles.field(file, JsonFiles.read(file), "data");
        List<EvalExample> out = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            JsonNode q = data.get(i);
            long qid = JsonFiles.id(file, q, i, "question_id");
            String imageId = JsonFiles.text(file, q, i, "image_id");
            List<String> answers = new ArrayList<>();
            JsonFiles.array(file, q.get("answers"), "entry " + i + ": \"answers\"").forEach(a -> answers.add(a.asText()));
            if (answers.isEmpty()) {
                throw new Mm1Exception(file + ": entry " + i + " (question_id " + qid + ") has no answers");
            }
            out.add(new EvalExample(String.valueOf(qid), imageId, image(file, i, imageDir, imageId + ".jpg"),
                    JsonFiles.text(file, q, i, "question"), answers, mostFrequent(answers), "other", null));
        }
        return out;
    }

    /** VizWiz: a top-level list keyed by image name (its results file is {@code [{image, answer}]}). */
    public static List<EvalExample> vizWiz(Path file, Path imageDir) {
        JsonNode data = JsonFiles.array(file, JsonFiles.read(file), "a VizWiz annotations file");
        List<EvalExample> out = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            JsonNode q = data.get(i);
            String name = JsonFiles.text(file, q, i, "image");
            JsonNode as = JsonFiles.array(file, q.get("answers"), "entry " + i + ": \"answers\"");
            List<String> answers = new ArrayList<>();
            for (int j = 0; j < as.size(); j++) {
                answers.add(JsonFiles.text(file, as.get(j), i, "answer"));
            }
            if (answers.isEmpty()) {
                throw new Mm1Exception(file + ": entry " + i + " (" + name + ") has no answers");
            }
            out.add(new EvalExample(name, name, image(file, i, imageDir, name), JsonFiles.text(file, q, i, "question"),
                    answers, mostFrequent(answers), q.path("answer_type").asText("other"), null));
        }
        return out;
    }

    /**
     * GQA questions: an object keyed by question id; the single gold answer is the only target. As GQA's official
     * evaluation, accuracy is over the balanced questions: entries flagged {@code "isBalanced": false} (present in
     * the "all" question files) are left out.
     */
    public static List<EvalExample> gqa(Path file, Path imageDir) {
        JsonNode root = JsonFiles.read(file);
        if (!root.isObject()) {
            throw new Mm1Exception(file + ": expected a JSON object keyed by question id");
        }
        List<EvalExample> out = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            JsonNode q = e.getValue();
            if (q.path("isBalanced").isBoolean() && !q.get("isBalanced").asBoolean()) {
                i++;
                continue;
            }
            String imageId = JsonFiles.text(file, q, i, "imageId");
            String answer = JsonFiles.text(file, q, i, "answer");
            out.add(new EvalExample(e.getKey(), imageId, image(file, i, imageDir, imageId + ".jpg"),
                    JsonFiles.text(file, q, i, "question"), List.of(answer), answer, "other",
                    q.path("types").path("structural").asText(null)));
            i++;
        }
        return out;
    }

    /** The most frequent string, the first seen on ties (the consensus answer a demonstration shows). */
    static String mostFrequent(List<String> answers) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        answers.forEach(a -> counts.merge(a, 1, Integer::sum));
        String best = answers.get(0);
        for (Map.Entry<String, Integer> c : counts.entrySet()) {
            if (c.getValue() > counts.get(best)) {
                best = c.getKey();
            }
        }
        return best;
    }

    /** A picture named by a data file: inside {@code dir}, a regular file. */
    private static Path image(Path file, int entry, Path dir, String name) {
        return SafePaths.regularFileInside(dir, name, file + ": entry " + entry);
    }
}
