package io.mm1j.eval;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns answers into the official results file of each benchmark and scores them with the official definitions:
 * coco-caption ({@link CaptionScores}: BLEU, ROUGE-L, CIDEr-D on PTB tokens) for captions, {@link VqaAccuracy}
 * for VQA in the variant of each benchmark's own evaluator ({@link VqaVariant}: VQAv2 and OK-VQA take
 * {@code --variant}, TextVQA is MMF's, VizWiz its challenge's), exact match for GQA (its eval.py), and
 * {@link MultipleChoice#score} for multiple choice. Only the evaluated items are scored (coco-caption's subset
 * behaviour), so {@code --limit} gives the score of a prefix of the split.
 */
final class TaskScorer {
    /** The results JSON, the metric values, and one score per item (same order as the items). */
    record Scored(ArrayNode results, ObjectNode metrics, List<Double> perItem) {}

    private TaskScorer() {}

    static Scored score(EvalTask task, VqaVariant vqaVariant, List<EvalExample> items, List<String> answers,
            Path resultsFile) {
        return switch (task.kind()) {
            case CAPTION -> captions(items, answers, resultsFile);
            case VQA -> task == EvalTask.GQA ? gqa(items, answers) : vqa(task, variant(task, vqaVariant), items,
                    answers);
            default -> throw new IllegalStateException(task + " is not scored here");
        };
    }

    private static Scored captions(List<EvalExample> items, List<String> answers, Path resultsFile) {
        ArrayNode results = JsonFiles.MAPPER.createArrayNode();
        Map<Long, List<String>> refs = new LinkedHashMap<>();
        Map<Long, String> res = new LinkedHashMap<>();
        List<List<String>> cands = new ArrayList<>();
        List<List<List<String>>> refWords = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            long id = numericId(items.get(i));
            results.addObject().put("image_id", id).put("caption", answers.get(i));
            refs.put(id, items.get(i).targets());
            res.put(id, answers.get(i));
            cands.add(CaptionScores.words(PtbTokenizer.tokenize(answers.get(i))));
            List<List<String>> rw = new ArrayList<>();
            items.get(i).targets().forEach(r -> rw.add(CaptionScores.words(PtbTokenizer.tokenize(r))));
            refWords.add(rw);
        }
        CaptionScores s = CaptionScores.evaluate(refs, res, resultsFile, true);
        List<Double> per = new ArrayList<>();
        for (double d : CiderD.perImage(cands, refWords)) {
            per.add(d);
        }
        return new Scored(results, s.toJson(JsonFiles.MAPPER), per);
    }

    private static Scored vqa(EvalTask task, VqaVariant variant, List<EvalExample> items, List<String> answers) {
        ArrayNode results = JsonFiles.MAPPER.createArrayNode();
        List<VqaAccuracy.Item> scored = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            EvalExample e = items.get(i);
            if (task == EvalTask.VIZWIZ) {
                results.addObject().put("image", e.id()).put("answer", answers.get(i));
            } else {
                results.addObject().put("question_id", numericId(e)).put("answer", answers.get(i));
            }
            scored.add(new VqaAccuracy.Item(e.id(), String.valueOf(e.answerType()), String.valueOf(e.questionType()),
                    VqaAccuracy.humans(e.targets())));
        }
        VqaAccuracy acc = VqaAccuracy.evaluate(variant, scored, answers);
        return new Scored(results, acc.toJson(JsonFiles.MAPPER, false), acc.accuracies());
    }

    /** The variant a task is scored with: TextVQA and VizWiz have their own; VQAv2 and OK-VQA use {@code vqa}. */
    static VqaVariant variant(EvalTask task, VqaVariant vqa) {
        return switch (task) {
            case TEXTVQA -> VqaVariant.TEXTVQA;
            case VIZWIZ -> VqaVariant.VIZWIZ;
            default -> vqa;
        };
    }

    /** GQA: the prediction must equal the gold answer exactly (GQA's eval.py applies no normalisation). */
    private static Scored gqa(List<EvalExample> items, List<String> answers) {
        ArrayNode results = JsonFiles.MAPPER.createArrayNode();
        List<Double> per = new ArrayList<>();
        double sum = 0;
        for (int i = 0; i < items.size(); i++) {
            results.addObject().put("questionId", items.get(i).id()).put("prediction", answers.get(i));
            double ok = answers.get(i).equals(items.get(i).answer()) ? 1 : 0;
            per.add(ok);
            sum += ok;
        }
        ObjectNode m = JsonFiles.MAPPER.createObjectNode().put("accuracy", 100.0 * sum / items.size())
                .put("questions", items.size());
        return new Scored(results, m, per);
    }

    private static long numericId(EvalExample e) {
        try {
            return Long.parseLong(e.id());
        } catch (NumberFormatException x) {
            throw new Mm1Exception("id '" + e.id() + "' is not an integer; the official results format needs one");
        }
    }
}
