package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import io.mm1j.data.VqaReader;
import io.mm1j.io.JsonFiles;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The VQA-style accuracies, rule by rule. Expected values are worked by hand from the official code's logic
 * (GT-Vision-Lab/VQA vqaEval.py at a013f00 and before it, MMF's TextVQA evaluator, VizWiz's vqaEval.py); the
 * comment on each says why.
 */
class VqaAccuracyTest {
    private static final VqaNormalizer VQA = VqaNormalizer.VQA;

    private static List<VqaReader.Answer> humans(String... answers) {
        return VqaAccuracy.humans(List.of(answers));
    }

    /** {@code answer} {@code times} times, then distinct fillers up to ten. */
    private static List<VqaReader.Answer> ten(String answer, int times) {
        String[] a = new String[10];
        for (int i = 0; i < 10; i++) {
            a[i] = i < times ? answer : "filler" + i;
        }
        return humans(a);
    }

    private static double acc(VqaVariant v, String predicted, List<VqaReader.Answer> humans) {
        return VqaAccuracy.question(v, predicted, humans, "q");
    }

    @Test
    void punctuationIsDeletedNextToASpaceAndOtherwiseSpaced() {
        assertEquals("red white", VQA.full("red-white"), "'-' touches no space: replaced by a space");
        assertEquals("red  white", VQA.punctuation("red - white"), "' -' occurs: every '-' deleted, spaces stay");
        assertEquals("red white", VQA.full("red - white"), "split() then joins with one space");
        assertEquals("yes", VQA.full("yes!"), "'!' touches no space: becomes a space, stripped by split()");
    }

    @Test
    void aDigitCommaDigitAnywhereDeletesEveryPunctuationCharacter() {
        // "1,000" matches (\d)(,)(\d), so "(" and ")" are deleted too instead of spaced
        assertEquals("1000 about", VQA.full("1,000 (about)"));
        assertEquals("1 000", VQA.full("1, 000"), "', ' touches a space: deleted; no digit-comma-digit");
        assertEquals("x y", VQA.full("x,y"), "no digits: the comma becomes a space");
    }

    @Test
    void periodsAreDeletedUnlessADigitFollowsAndAtMost32() {
        assertEquals("abc", VQA.full("a.b.c"));
        assertEquals("3.5", VQA.full("3.5"), "followed by a digit: kept");
        assertEquals("3", VQA.full("3."), "final period: deleted");
        // re.sub("", text, re.UNICODE) passes 32 as the count: the 33rd period onwards stays
        assertEquals("x".repeat(32) + "x.".repeat(8), VQA.punctuation("x.".repeat(40)));
    }

    @Test
    void numberWordsArticlesAndContractions() {
        assertEquals("2", VQA.full("Two"), "lower-cased, then the number table");
        assertEquals("0", VQA.full("none"), "'none' is in the number table");
        assertEquals("10", VQA.full("ten"));
        assertEquals("eleven", VQA.full("eleven"), "the table stops at ten");
        assertEquals("dog", VQA.full("The dog"), "articles dropped");
        assertEquals("don't", VQA.full("dont"));
        assertEquals("im", VQA.full("Im"), "table key 'Im' can never match lower-cased input");
        assertEquals("somebodyd", VQA.full("somebody'd"), "the table's odd entry, kept");
    }

    @Test
    void python2StringRulesForVqa() {
        assertEquals("red", VQA.clean("red\u180e"), "U+180E is whitespace in Python 2.7 (Unicode 5.2)");
        assertEquals("red\u180e", VqaNormalizer.VIZWIZ.clean("red\u180e"), "but not in Python 3");
        assertEquals("red", VQA.clean(" red\u00a0\n"), "no-break space and newline are whitespace");
        assertEquals("istanbul", VQA.full("\u0130stanbul"), "Python 2 lower(): one code point to one");
        assertEquals("i\u0307stanbul", VqaNormalizer.VIZWIZ.full("\u0130stanbul"), "Python 3: full case mapping");
        assertEquals("\u13a0", VQA.full("\u13a0"), "Cherokee has no lower case in Unicode 5.2");
        // \d without re.UNICODE is ASCII in Python 2: a period before ARABIC-INDIC DIGIT ONE is deleted
        assertEquals("1\u0661", VQA.full("1.\u0661"));
        assertEquals("1.\u0661", VqaNormalizer.VIZWIZ.full("1.\u0661"), "Python 3's \\d is any decimal digit: kept");
    }

    @Test
    void leaveOneOutAccuracy() {
        // c humans agree with the prediction: each of them sees c-1 matches among the other nine, the rest see c
        assertEquals(1.0, acc(VqaVariant.OFFICIAL, "cat", ten("cat", 4)), 0.0, "4: min(1, 3/3) everywhere");
        assertEquals(0.9, acc(VqaVariant.OFFICIAL, "cat", ten("cat", 3)), 1e-15, "3: (3·2/3 + 7·1)/10");
        assertEquals(0.6, acc(VqaVariant.OFFICIAL, "cat", ten("cat", 2)), 1e-15, "2: (2·1/3 + 8·2/3)/10");
        assertEquals(0.3, acc(VqaVariant.OFFICIAL, "cat", ten("cat", 1)), 1e-15, "1: (1·0 + 9·1/3)/10");
        assertEquals(0.0, acc(VqaVariant.OFFICIAL, "dog", ten("cat", 10)), 0.0);
    }

    @Test
    void officialNormalisesNothingWhenTheHumansAgreeExactly() {
        List<VqaReader.Answer> yes = humans("yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes");
        assertEquals(0.0, acc(VqaVariant.OFFICIAL, "Yes", yes), 0.0, "'Yes' is compared as written");
        assertEquals(0.0, acc(VqaVariant.OFFICIAL, "yes.", yes), 0.0, "so is 'yes.'");
        assertEquals(1.0, acc(VqaVariant.OFFICIAL, " yes\n", yes), 0.0, "but it is cleaned (\\n, strip)");
        assertEquals(1.0, acc(VqaVariant.LEGACY, "Yes", yes), 0.0, "legacy normalises the prediction always");
    }

    @Test
    void officialNormalisesBothSidesWhenTheHumansDiffer() {
        // humans differ: "two" → "2" on both sides (official); legacy gives humans only the punctuation step
        assertEquals(1.0, acc(VqaVariant.OFFICIAL, "two", ten("two", 5)), 0.0);
        assertEquals(0.0, acc(VqaVariant.LEGACY, "two", ten("two", 5)), 0.0);
        assertEquals(1.0, acc(VqaVariant.LEGACY, "Yes", ten("yes.", 5)), 0.0, "punctuation step on humans");
    }

    @Test
    void humansAreCleanedBeforeTheIdenticalCheckInTheOfficialVariantOnly() {
        List<VqaReader.Answer> dogs = humans("dog\n", "dog\n", "dog\n", "dog\n", "dog\n", "dog\n", "dog\n", "dog\n",
                "dog\n", "dog\n");
        assertEquals(1.0, acc(VqaVariant.OFFICIAL, "dog", dogs), 0.0);
        assertEquals(0.0, acc(VqaVariant.LEGACY, "dog", dogs), 0.0, "legacy compares 'dog' with 'dog\\n'");
    }

    @Test
    void equalAnswerObjectsLeaveTheOthersTogether() {
        // humans 1 and 2 are equal dicts (answer_id 1 == 1.0 in Python): leaving out either drops both, so
        // they see 1 match (human 3) each; human 3 sees 2; the seven others see 3 → (1/3+1/3+2/3+7)/10
        List<VqaReader.Answer> h = new ArrayList<>(ten("cat", 3));
        h.set(1, new VqaReader.Answer("cat", JsonFiles.MAPPER.createObjectNode().put("answer", "cat")
                .put("answer_confidence", "yes").put("answer_id", 1.0)));
        assertEquals((1.0 / 3 + 1.0 / 3 + 2.0 / 3 + 7) / 10, acc(VqaVariant.OFFICIAL, "cat", h), 1e-15);
        assertEquals(0.9, acc(VqaVariant.VIZWIZ, "cat", h), 1e-15, "VizWiz tells humans apart by position");
    }

    @Test
    void textVqaNormalisesEverythingAfterItsWordTokenizer() {
        VqaNormalizer t = VqaNormalizer.TEXTVQA;
        assertEquals("1000", t.full(t.clean(t.wordTokenize("1,000"))), "commas deleted first");
        assertEquals("john 's", t.full(t.clean(t.wordTokenize("John's"))), "\"'s\" split off");
        assertEquals(1.0, acc(VqaVariant.TEXTVQA, "Coca-Cola", humans("coca cola", "coca cola", "coca cola",
                "coca cola", "x", "y", "z", "w", "v", "u")), 0.0, "4 agree after normalisation");
        assertThrows(Mm1Exception.class, () -> acc(VqaVariant.TEXTVQA, "a", ten("a", 3).subList(0, 9)),
                "the evaluator asserts 10 answers");
    }

    @Test
    void vizWizComparesHumansAsWrittenAndUsesTypographicApostrophes() {
        assertEquals(0.0, acc(VqaVariant.VIZWIZ, "Yes", ten("Yes", 4)), 0.0, "prediction lower-cased, humans not");
        assertEquals(1.0, acc(VqaVariant.VIZWIZ, "dont", ten("don\u2019t", 4)), 0.0, "its table gives don’t");
        assertEquals(0.0, acc(VqaVariant.VIZWIZ, "dont", ten("don't", 4)), 0.0);
    }

    @Test
    void roundingFollowsEachScriptsPython() {
        // 12.125 is exact in binary: Python 2 rounds the tie away from zero, Python 3 to even
        assertEquals(12.13, VqaAccuracy.round2(VqaVariant.OFFICIAL, 12.125), 0.0);
        assertEquals(12.12, VqaAccuracy.round2(VqaVariant.VIZWIZ, 12.125), 0.0);
        assertEquals(2.67, VqaAccuracy.round2(VqaVariant.OFFICIAL, 2.675), 0.0, "2.67499999… in binary");
        assertEquals(33.33, VqaAccuracy.round2(VqaVariant.OFFICIAL, 100.0 / 3), 0.0);
    }

    @Test
    void aggregatesPerAnswerAndQuestionTypeAndPerQuestion() {
        List<VqaAccuracy.Item> items = List.of(new VqaAccuracy.Item("1", "yes/no", "is the", ten("yes", 10)),
                new VqaAccuracy.Item("2", "number", "how many", ten("2", 2)),
                new VqaAccuracy.Item("3", "yes/no", "is the", ten("no", 10)));
        VqaAccuracy acc = VqaAccuracy.evaluate(VqaVariant.OFFICIAL, items, List.of("yes", "two", "yes"));
        // 1 + 0.6 + 0 over 3 questions = 53.333… → 53.33; yes/no (1 + 0)/2 = 50; number 0.6 → 60
        assertEquals(53.33, acc.overall(), 0.0);
        assertEquals(Map.of("yes/no", 50.0, "number", 60.0), acc.perAnswerType());
        assertEquals(Map.of("is the", 50.0, "how many", 60.0), acc.perQuestionType());
        assertEquals(Map.of("1", 100.0, "2", 60.0, "3", 0.0), acc.perQuestion());
        assertEquals("official", acc.toJson(JsonFiles.MAPPER, false).get("variant").asText());
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
