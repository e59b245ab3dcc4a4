package io.mm1j.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * VQA accuracy as the official {@code vqaEval.py}: for each of the ten human answers, the prediction scores
 * min(#matches among the other nine / 3, 1); the question scores the mean of these ten (so 3 agreeing humans out of
 * 10 give 0.9, not 1). The prediction is normalised fully ({@link VqaNormalizer#normalizeAnswer}); the human
 * answers only get the punctuation step, and only when they are not all identical — as in the official code.
 * Reported figures are ×100 and rounded to 2 decimals the way Python 3's {@code round} does (half-even on the
 * exact binary value).
 *
 * @param overall percentage over all questions
 * @param perAnswerType percentage per {@code answer_type} ("yes/no", "number", "other"), in first-seen order
 * @param perQuestionType percentage per {@code question_type} ("what color is the", …)
 * @param perQuestion unrounded accuracy in [0, 1] per question id
 */
public record VqaAccuracy(double overall, Map<String, Double> perAnswerType, Map<String, Double> perQuestionType,
        Map<Long, Double> perQuestion) {

    /**
     * Scores results against annotations. As the official {@code loadRes}, results must answer exactly the
     * annotated questions; {@code questions} (may be null) must know every annotated question.
     */
    public static VqaAccuracy evaluate(Map<Long, VqaFiles.Annotation> annotations,
            Map<Long, VqaFiles.Question> questions, Map<Long, String> results, Path resultsFile) {
        for (Long id : results.keySet()) {
            if (!annotations.containsKey(id)) {
                throw new Mm1Exception(resultsFile + ": question_id " + id + " is not in the annotations");
            }
        }
        Map<Long, Double> perQuestion = new LinkedHashMap<>();
        Map<String, List<Double>> byAnswerType = new LinkedHashMap<>();
        Map<String, List<Double>> byQuestionType = new LinkedHashMap<>();
        for (VqaFiles.Annotation a : annotations.values()) {
            if (questions != null && !questions.containsKey(a.questionId())) {
                throw new Mm1Exception("question_id " + a.questionId() + " is annotated but not in the questions file");
            }
            String answer = results.get(a.questionId());
            if (answer == null) {
                throw new Mm1Exception(resultsFile + ": no answer for question_id " + a.questionId());
            }
            double acc = question(answer, a.answers());
            perQuestion.put(a.questionId(), acc);
            byAnswerType.computeIfAbsent(a.answerType(), k -> new ArrayList<>()).add(acc);
            byQuestionType.computeIfAbsent(a.questionType(), k -> new ArrayList<>()).add(acc);
        }
        if (perQuestion.isEmpty()) {
            throw new Mm1Exception("the annotations file has no questions");
        }
        return new VqaAccuracy(percent(new ArrayList<>(perQuestion.values())), percents(byAnswerType),
                percents(byQuestionType), perQuestion);
    }

    /** Accuracy in [0, 1] of one predicted answer against the human answers. */
    public static double question(String predicted, List<VqaFiles.Answer> humans) {
        String res = VqaNormalizer.normalizeAnswer(predicted);
        boolean allSame = humans.stream().map(VqaFiles.Answer::answer).distinct().count() == 1;
        List<VqaFiles.Answer> gts = new ArrayList<>(humans.size());
        for (VqaFiles.Answer h : humans) {
            gts.add(allSame ? h : new VqaFiles.Answer(VqaNormalizer.punctuation(h.answer()), h.answerId()));
        }
        double sum = 0;
        for (VqaFiles.Answer left : gts) {
            int matches = 0;
            for (VqaFiles.Answer other : gts) {
                if (!other.equals(left) && other.answer().equals(res)) {
                    matches++;
                }
            }
            sum += Math.min(1.0, matches / 3.0);
        }
        return sum / gts.size();
    }

    /** Python 3's {@code round(x, 2)}: half-even on the exact binary value of x. */
    static double round2(double x) {
        return new BigDecimal(x).setScale(2, RoundingMode.HALF_EVEN).doubleValue();
    }

    private static double percent(List<Double> accs) {
        double sum = 0;
        for (double a : accs) {
            sum += a;
        }
        return round2(100 * sum / accs.size());
    }

    private static Map<String, Double> percents(Map<String, List<Double>> groups) {
        Map<String, Double> out = new LinkedHashMap<>();
        groups.forEach((k, v) -> out.put(k, percent(v)));
        return out;
    }

    /** The official keys: {@code overall}, {@code perAnswerType}, {@code perQuestionType}. */
    public ObjectNode toJson(ObjectMapper json) {
        ObjectNode o = json.createObjectNode();
        o.put("overall", overall);
        ObjectNode at = o.putObject("perAnswerType");
        perAnswerType.forEach(at::put);
        ObjectNode qt = o.putObject("perQuestionType");
        perQuestionType.forEach(qt::put);
        o.put("questions", perQuestion.size());
        return o;
    }
}
