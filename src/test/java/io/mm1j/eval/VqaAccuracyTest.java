package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The official VQA normalisation and leave-one-out accuracy, on the behaviours the VQA site documents. */
class VqaAccuracyTest {
    private static List<VqaFiles.Answer> humans(String... answers) {
        List<VqaFiles.Answer> out = new ArrayList<>();
        for (int i = 0; i < answers.length; i++) {
            out.add(new VqaFiles.Answer(answers[i], i + 1));
        }
        return out;
    }

    private static List<VqaFiles.Answer> tenWith(String answer, int times) {
        String[] a = new String[10];
        for (int i = 0; i < 10; i++) {
            a[i] = i < times ? answer : "other" + i;
        }
        return humans(a);
    }

    @Test
    void normalisesLikeTheOfficialTool() {
        assertEquals("2", VqaNormalizer.normalizeAnswer("Two"));
        assertEquals("dog", VqaNormalizer.normalizeAnswer(" The dog.\n"));
        assertEquals("don't", VqaNormalizer.normalizeAnswer("dont"));
        assertEquals("3.5", VqaNormalizer.normalizeAnswer("3.5"));
        assertEquals("0", VqaNormalizer.normalizeAnswer("none"));
        assertEquals("yes", VqaNormalizer.normalizeAnswer("yes!"));
        assertEquals("black and white", VqaNormalizer.normalizeAnswer("black-and-white"));
        assertEquals("red blue", VqaNormalizer.normalizeAnswer("red / blue"));
        // a digit-comma-digit anywhere deletes all listed punctuation instead of spacing it
        assertEquals("1000", VqaNormalizer.normalizeAnswer("1,000"));
        assertEquals("10:30", VqaNormalizer.normalizeAnswer("10:30"));
        // words in the table with capitals never match after lower-casing
        assertEquals("im", VqaNormalizer.normalizeAnswer("Im"));
    }

    @Test
    void periodStripStopsAfter32Periods() {
        // re.sub(pattern, "", text, re.UNICODE) passes 32 as the replacement count
        String forty = "x.".repeat(40);
        assertEquals("x".repeat(32) + "x.".repeat(8), VqaNormalizer.punctuation(forty));
    }

    @Test
    void accuracyAveragesTheTenLeaveOneOutSubsets() {
        assertEquals(1.0, VqaAccuracy.question("cat", tenWith("cat", 4)), 1e-12);
        // 3 humans agree: the 3 subsets that drop one of them have 2 matches → 2/3; the other 7 → 1
        assertEquals((3 * 2.0 / 3 + 7) / 10, VqaAccuracy.question("cat", tenWith("cat", 3)), 1e-12);
        assertEquals(0.6, VqaAccuracy.question("cat", tenWith("cat", 2)), 1e-12);
        assertEquals(0.3, VqaAccuracy.question("cat", tenWith("cat", 1)), 1e-12);
        assertEquals(0.0, VqaAccuracy.question("dog", tenWith("cat", 10)), 1e-12);
    }

    @Test
    void humanAnswersGetOnlyThePunctuationStep() {
        // the prediction "2" (from "two") does not match humans who wrote "two": their number words stay
        assertEquals(0.0, VqaAccuracy.question("two", tenWith("two", 5)), 1e-12);
        // "yes." by humans (answers differ) → punctuation step removes the period → matches "yes"
        assertEquals(1.0, VqaAccuracy.question("Yes", tenWith("yes.", 5)), 1e-12);
    }

    @Test
    void roundsLikePython3() {
        assertEquals(12.12, VqaAccuracy.round2(12.125), 0.0); // exact tie → even
        assertEquals(2.67, VqaAccuracy.round2(2.675), 0.0); // 2.675 is 2.67499999… in binary
        assertEquals(33.33, VqaAccuracy.round2(100.0 / 3), 0.0);
    }

    @Test
    void aggregatesPerAnswerAndQuestionType() {
        Map<Long, VqaFiles.Annotation> anns = new LinkedHashMap<>();
        anns.put(1L, new VqaFiles.Annotation(1, "yes/no", "is the", tenWith("yes", 10), "yes"));
        anns.put(2L, new VqaFiles.Annotation(2, "number", "how many", tenWith("2", 2), "2"));
        anns.put(3L, new VqaFiles.Annotation(3, "yes/no", "is the", tenWith("no", 10), "no"));
        Map<Long, String> res = Map.of(1L, "yes", 2L, "two", 3L, "yes");
        VqaAccuracy acc = VqaAccuracy.evaluate(anns, null, res, java.nio.file.Path.of("r.json"));
        assertEquals(VqaAccuracy.round2(100 * (1 + 0.6 + 0) / 3), acc.overall(), 0.0);
        assertEquals(53.33, acc.overall(), 0.0);
        assertEquals(Map.of("yes/no", 50.0, "number", 60.0), acc.perAnswerType());
        assertEquals(Map.of("is the", 50.0, "how many", 60.0), acc.perQuestionType());
    }

    @Test
    void gqaIsExactMatchOverBalancedQuestions(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws Exception {
        java.nio.file.Path q = tmp.resolve("q.json");
        java.nio.file.Files.writeString(q, "{\"a\": {\"answer\": \"yes\", \"isBalanced\": true},"
                + " \"b\": {\"answer\": \"red\", \"isBalanced\": true}, \"c\": {\"answer\": \"no\", \"isBalanced\": false}}");
        Map<String, String> pred = Map.of("a", "yes", "b", "Red", "c", "no");
        assertEquals(50.0, GqaAccuracy.evaluate(q, pred, tmp.resolve("p.json")), 0.0);
    }
}
