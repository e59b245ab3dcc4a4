package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Prompt layout, demonstration sampling, stop rules and multiple-choice scoring on hand-made examples. */
class FewShotPromptTest {
    /** One token per character, id = code point + 100, so layouts can be written out by hand. */
    private static long[] chars(String s) {
        return s.chars().mapToLong(c -> c + 100).toArray();
    }

    private static EvalExample caption(int i) {
        return new EvalExample(String.valueOf(i), "img" + i, Path.of(i + ".png"), null, List.of("c" + i), "c" + i,
                null, null);
    }

    private static List<EvalExample> pool(int n) {
        List<EvalExample> p = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            p.add(caption(i));
        }
        return p;
    }

    @Test
    void captionPromptsInterleaveImagesAndCaptionsForZeroFourAndEightShots() {
        FewShotPrompt fp = new FewShotPrompt(EvalTask.Kind.CAPTION, FewShotPromptTest::chars, 2, 1, 3);
        EvalExample q = caption(99);
        assertArrayEquals(new long[] {1, 3, 3}, fp.build(List.of(), q, 128, 30).ids());
        List<EvalExample> demos = new DemoSampler(pool(20), 7).sample(q, 4);
        FewShotPrompt.Prompt p = fp.build(demos, q, 128, 30);
        List<Long> expected = new ArrayList<>(List.of(1L));
        StringBuilder text = new StringBuilder();
        for (EvalExample d : demos) {
            expected.addAll(List.of(3L, 3L));
            for (long c : chars(d.answer() + "\n")) {
                expected.add(c);
            }
            text.append("<image>").append(d.answer()).append('\n');
        }
        expected.addAll(List.of(3L, 3L));
        assertArrayEquals(expected.stream().mapToLong(Long::longValue).toArray(), p.ids());
        assertEquals(text + "<image>", p.text());
        assertEquals(8, fp.build(new DemoSampler(pool(20), 7).sample(q, 8), q, 128, 30).demos().size());
    }

    @Test
    void vqaPromptEndsWithTheShortAnswerCue() {
        FewShotPrompt fp = new FewShotPrompt(EvalTask.Kind.VQA, FewShotPromptTest::chars, 1, 1, 3);
        EvalExample d = new EvalExample("5", "a", Path.of("a.png"), "how many?", List.of("two"), "two", null, null);
        EvalExample q = new EvalExample("6", "b", Path.of("b.png"), "what color?", List.of("red"), "red", null, null);
        assertEquals("<image>Question: how many? Short answer: two\n<image>Question: what color? Short answer:",
                fp.build(List.of(d), q, 1000, 10).text());
    }

    @Test
    void demonstrationsAreSeededNeverTheQueryImageAndDroppedFromTheFrontWhenTooLong() {
        List<EvalExample> p = pool(9);
        EvalExample q = caption(3); // the query's picture is in the pool
        DemoSampler s = new DemoSampler(p, 42);
        for (int shots : new int[] {4, 8}) {
            List<EvalExample> d = s.sample(q, shots);
            assertEquals(shots, d.size());
            assertFalse(d.stream().anyMatch(e -> e.imageKey().equals(q.imageKey())), "query image never a demo");
            assertEquals(shots, d.stream().map(EvalExample::imageKey).distinct().count());
            assertEquals(d, new DemoSampler(p, 42).sample(q, shots), "same seed, same demonstrations");
        }
        assertNotEquals(s.sample(q, 4), new DemoSampler(p, 43).sample(q, 4));
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> s.sample(q, 9));
        assertEquals("query 3: only 8 demonstration image(s) other than the query's are available, 9 shots asked",
                e.getMessage());
        FewShotPrompt fp = new FewShotPrompt(EvalTask.Kind.CAPTION, FewShotPromptTest::chars, 2, 1, 3);
        List<EvalExample> four = s.sample(q, 4); // each demo: 2 image + 3 text tokens; query 1 + 2
        FewShotPrompt.Prompt cut = fp.build(four, q, 3 + 2 * 5 + 4, 4);
        assertEquals(four.subList(2, 4), cut.demos(), "the farthest demonstrations go first");
        assertEquals("query 3: the prompt (3 tokens) plus 4 answer tokens does not fit the model's maxPositions 6",
                assertThrows(Mm1Exception.class, () -> fp.build(four, q, 6, 4)).getMessage());
    }

    @Test
    void stopRuleEndsAtStopIdsNewlinesAndTheLengthCap() {
        StopRule rule = new StopRule(Set.of(2, 3), true, 5);
        io.mm1j.mllm.GenerationConfig cfg = rule.config();
        assertEquals(Set.of(2, 3), cfg.stopIds());
        assertEquals(List.of("\n"), cfg.stopStrings(), "the newline is matched on decoded text (e.g. inside '.\\n')");
        assertEquals(5, cfg.maxTokens());
        assertTrue(cfg.isGreedy());
        // what the generator reports → the answer and the recorded reason
        Object[][] cases = {
            {" a red", 2, null, "stop", "a red", StopRule.Reason.STOP_TOKEN},
            {" a red.", -1, "\n", "stop", "a red.", StopRule.Reason.NEWLINE},
            {" a a a a a", -1, null, "length", "a a a a a", StopRule.Reason.LENGTH},
            {"", 3, null, "stop", "", StopRule.Reason.STOP_TOKEN}};
        for (Object[] c : cases) {
            io.mm1j.mllm.Generator.Result r = new io.mm1j.mllm.Generator.Result((String) c[0], new long[0], 1, 0, 0,
                    (String) c[3], (String) c[2], (Integer) c[1], 0, 0, 0);
            StopRule.Output out = rule.outcome(r);
            assertEquals(c[4], out.text());
            assertEquals(c[5], out.reason());
        }
    }

    @Test
    void letterExtractionAndCircularScoring() {
        List<String> opts = List.of("red", "blue", "green", "yellow");
        assertEquals("B", MultipleChoice.extract(" B", opts));
        assertEquals("C", MultipleChoice.extract("(C) green", opts));
        assertEquals("D", MultipleChoice.extract("the answer is D.", opts));
        assertEquals("A", MultipleChoice.extract("Red.", opts));
        assertNull(MultipleChoice.extract("E", opts));
        assertNull(MultipleChoice.extract("purple", opts));
        EvalExample q = new EvalExample("1", "i", Path.of("i.png"), "color?", opts, "B", null, null);
        EvalExample r1 = MultipleChoice.rotate(q, 1);
        assertEquals(List.of("blue", "green", "yellow", "red"), r1.targets());
        assertEquals("A", r1.answer());
        assertEquals("D", MultipleChoice.rotate(q, 2).answer());
        // q1 right in every rotation; q2 right only in the original order (an "always B" model); q3 never
        MultipleChoice.Scores s = MultipleChoice.score(List.of(List.of(true, true, true, true),
                List.of(true, false, false, false), List.of(false, false, false, false)));
        assertEquals(200.0 / 3, s.accuracy(), 1e-12);
        assertEquals(100.0 / 3, s.circularAccuracy(), 1e-12);
    }
}
