package io.mm1j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.data.VqaReader;
import io.mm1j.io.JsonFiles;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * VQA accuracy as the official evaluations compute it ({@link VqaVariant} says which, and how they differ): for
 * each of the (ten) human answers, the prediction scores min(#matches among the other humans / 3, 1); the question
 * scores the mean of these (so 3 agreeing humans out of 10 give 0.9, not 1). Overall and per-type figures are
 * ×100 means over questions, rounded to 2 decimals as the variant's Python does ({@link #round2}).
 *
 * @param variant         the official code followed
 * @param overall         percentage over all questions
 * @param perAnswerType   percentage per {@code answer_type} ("yes/no", "number", "other"), in first-seen order
 * @param perQuestionType percentage per {@code question_type} ("what color is the", …)
 * @param perQuestion     per question key, the official {@code evalQA}: ×100, rounded as the overall figure
 * @param accuracies      unrounded accuracy in [0, 1] per question, in input order
 */
public record VqaAccuracy(VqaVariant variant, double overall, Map<String, Double> perAnswerType,
        Map<String, Double> perQuestionType, Map<String, Double> perQuestion, List<Double> accuracies) {

    /** One question to score: its key (question id, or VizWiz image name), its types and human answers. */
    public record Item(String key, String answerType, String questionType, List<VqaReader.Answer> humans) {}

    /**
     * Scores a results file against VQAv2 annotations. As the official {@code loadRes}, results must answer
     * exactly the annotated questions; {@code questions} (may be null) must know every annotated question, and
     * when its {@code task_type} is "Multiple Choice" every answer must be one of the question's choices.
     */
    public static VqaAccuracy evaluate(VqaVariant variant, Map<Long, VqaReader.Annotation> annotations,
            VqaReader.Questions questions, Map<Long, String> results, Path resultsFile) {
        for (Long id : results.keySet()) {
            if (!annotations.containsKey(id)) {
                throw new Mm1Exception(resultsFile + ": question_id " + id + " is not in the annotations");
            }
        }
        boolean multipleChoice = questions != null && questions.taskType().equals("Multiple Choice");
        List<Item> items = new ArrayList<>(annotations.size());
        List<String> answers = new ArrayList<>(annotations.size());
        for (VqaReader.Annotation a : annotations.values()) {
            VqaReader.Question q = questions == null ? null : questions.byId().get(a.questionId());
            if (questions != null && q == null) {
                throw new Mm1Exception("question_id " + a.questionId() + " is annotated but not in the questions file");
            }
            String answer = results.get(a.questionId());
            if (answer == null) {
                throw new Mm1Exception(resultsFile + ": no answer for question_id " + a.questionId());
            }
            if (multipleChoice && !q.multipleChoices().contains(answer)) {
                throw new Mm1Exception(resultsFile + ": question_id " + a.questionId() + ": predicted answer '"
                        + answer + "' is not one of the multiple choices");
            }
            items.add(new Item(String.valueOf(a.questionId()), a.answerType(), a.questionType(), a.answers()));
            answers.add(answer);
        }
        return evaluate(variant, items, answers);
    }

    /** Scores {@code predictions.get(i)} against {@code items.get(i)}. */
    public static VqaAccuracy evaluate(VqaVariant variant, List<Item> items, List<String> predictions) {
        if (items.isEmpty()) {
            throw new Mm1Exception("no questions to score");
        }
        List<Double> accs = new ArrayList<>(items.size());
        Map<String, Double> perQuestion = new LinkedHashMap<>();
        Map<String, List<Double>> byAnswerType = new LinkedHashMap<>();
        Map<String, List<Double>> byQuestionType = new LinkedHashMap<>();
        for (int i = 0; i < items.size(); i++) {
            Item it = items.get(i);
            double acc = question(variant, predictions.get(i), it.humans(), it.key());
            accs.add(acc);
            perQuestion.put(it.key(), variant == VqaVariant.TEXTVQA ? 100 * acc : round2(variant, 100 * acc));
            if (variant != VqaVariant.TEXTVQA) { // MMF reports the accuracy only
                byAnswerType.computeIfAbsent(it.answerType(), k -> new ArrayList<>()).add(acc);
            }
            if (variant == VqaVariant.OFFICIAL || variant == VqaVariant.LEGACY) { // VizWiz has no question types
                byQuestionType.computeIfAbsent(it.questionType(), k -> new ArrayList<>()).add(acc);
            }
        }
        double overall = variant == VqaVariant.TEXTVQA ? 100 * (sum(accs) / accs.size()) : percent(variant, accs);
        Map<String, Double> at = new LinkedHashMap<>();
        byAnswerType.forEach((k, v) -> at.put(k, percent(variant, v)));
        Map<String, Double> qt = new LinkedHashMap<>();
        byQuestionType.forEach((k, v) -> qt.put(k, percent(variant, v)));
        return new VqaAccuracy(variant, overall, at, qt, perQuestion, List.copyOf(accs));
    }

    /**
     * Human answers given as strings, as answer objects the way the official files write them: {@code answer},
     * {@code answer_confidence} "yes" and {@code answer_id} 1, 2, … (so annotators are told apart by position).
     */
    public static List<VqaReader.Answer> humans(List<String> answers) {
        List<VqaReader.Answer> out = new ArrayList<>(answers.size());
        for (int j = 0; j < answers.size(); j++) {
            out.add(new VqaReader.Answer(answers.get(j), JsonFiles.MAPPER.createObjectNode()
                    .put("answer", answers.get(j)).put("answer_confidence", "yes").put("answer_id", j + 1)));
        }
        return out;
    }

    /** Accuracy in [0, 1] of one predicted answer against the human answers, as {@code variant} computes it. */
    public static double question(VqaVariant variant, String predicted, List<VqaReader.Answer> humans, String key) {
        int n = humans.size();
        if (n == 0) {
            throw new Mm1Exception("question " + key + " has no human answers");
        }
        List<String> gts = new ArrayList<>(n);
        String res;
        switch (variant) {
            case OFFICIAL -> {
                VqaNormalizer v = VqaNormalizer.VQA;
                humans.forEach(h -> gts.add(v.clean(h.answer())));
                res = v.clean(predicted);
                if (new HashSet<>(gts).size() > 1) {
                    gts.replaceAll(v::full);
                    res = v.full(res);
                }
            }
            case LEGACY -> {
                VqaNormalizer v = VqaNormalizer.VQA;
                res = v.full(v.clean(predicted));
                humans.forEach(h -> gts.add(h.answer()));
                if (new HashSet<>(gts).size() > 1) {
                    gts.replaceAll(v::punctuation);
                }
            }
            case TEXTVQA -> {
                if (n != 10) { // the evaluator asserts it
                    throw new Mm1Exception("question " + key + ": TextVQA scoring needs exactly 10 human answers, got "
                            + n);
                }
                VqaNormalizer v = VqaNormalizer.TEXTVQA;
                humans.forEach(h -> gts.add(v.full(v.clean(v.wordTokenize(h.answer())))));
                res = v.full(v.clean(v.wordTokenize(predicted)));
            }
            case VIZWIZ -> {
                VqaNormalizer v = VqaNormalizer.VIZWIZ;
                res = v.full(v.clean(predicted));
                humans.forEach(h -> gts.add(h.answer()));
            }
            default -> throw new IllegalStateException(variant.toString());
        }
        // VQA's code drops "item != gtAnsDatum": equal whole answer objects (after its in-place normalisation of
        // "answer") are all left out together; the others drop by position.
        boolean byObject = variant == VqaVariant.OFFICIAL || variant == VqaVariant.LEGACY;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            int matches = 0;
            for (int j = 0; j < n; j++) {
                boolean same = byObject ? gts.get(i).equals(gts.get(j))
                        && PythonJson.equalExcept(humans.get(i).record(), humans.get(j).record(), "answer") : i == j;
                if (!same && gts.get(j).equals(res)) {
                    matches++;
                }
            }
            sum += Math.min(1.0, matches / 3.0);
        }
        return sum / n;
    }

    /** Predicted answer per question id from {@code [{"question_id": int, "answer": str}]}; duplicates are an error. */
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

    /**
     * {@code round(x, 2)} of the variant's Python, on the exact binary value of x: Python 2 rounds ties away from
     * zero (VQA), Python 3 to even (VizWiz). Ties are rare but real: 0.3 of 48 questions is 0.625%.
     */
    static double round2(VqaVariant variant, double x) {
        RoundingMode mode = variant == VqaVariant.VIZWIZ ? RoundingMode.HALF_EVEN : RoundingMode.HALF_UP;
        return new BigDecimal(x).setScale(2, mode).doubleValue();
    }

    /** {@code round(100*float(sum(accs))/len(accs), 2)}: ×100 before the division, as the official code. */
    private static double percent(VqaVariant variant, List<Double> accs) {
        return round2(variant, 100 * sum(accs) / accs.size());
    }

    private static double sum(List<Double> xs) {
        double s = 0;
        for (double x : xs) {
            s += x;
        }
        return s;
    }

    /**
     * The official keys ({@code overall}, {@code perAnswerType}, {@code perQuestionType}), the variant, the number
     * of questions and, with {@code perQuestion}, the official {@code evalQA} (question key → accuracy ×100).
     */
    public ObjectNode toJson(ObjectMapper json, boolean withPerQuestion) {
        ObjectNode o = json.createObjectNode();
        o.put("overall", overall);
        ObjectNode at = o.putObject("perAnswerType");
        perAnswerType.forEach(at::put);
        ObjectNode qt = o.putObject("perQuestionType");
        perQuestionType.forEach(qt::put);
        o.put("questions", perQuestion.size());
        o.put("variant", variant.cliName());
        o.put("variantSource", variant.source());
        if (withPerQuestion) {
            ObjectNode pq = o.putObject("perQuestion");
            perQuestion.forEach(pq::put);
        }
        return o;
    }
}
