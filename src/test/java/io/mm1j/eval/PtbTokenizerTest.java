package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.TestSupport;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PTB tokenisation: hand examples, then token-for-token agreement with CoreNLP 3.4.1 run as coco-caption runs it. */
class PtbTokenizerTest {
    @TempDir
    Path tmp;

    @Test
    void splitsCliticsAndPunctuationAndLowercases() {
        assertEquals(List.of("a", "man", "'s", "hat", "is", "n't", "red", "."),
                PtbTokenizer.ptbTokens("A man's hat isn't red."));
        assertEquals(List.of("i", "ca", "n't", ",", "wo", "n't", ",", "can", "not", "gon", "na"),
                PtbTokenizer.ptbTokens("I can't, won't, cannot gonna"));
    }

    @Test
    void cocoRemovesPunctuationButKeepsLowercasedBrackets() {
        // coco-caption compares lower-cased tokens with "-LRB-", so brackets survive as -lrb-/-rrb-
        assertEquals(List.of("two", "kids", "-lrb-", "a", "boy", "-rrb-", "play", "``", "tag", "''"),
                PtbTokenizer.ptbTokens("Two kids (a boy) play \"tag\""));
        assertEquals(List.of("two", "kids", "-lrb-", "a", "boy", "-rrb-", "play", "tag"),
                PtbTokenizer.tokenize("Two kids (a boy) play \"tag\"..."));
    }

    @Test
    void keepsAbbreviationsInitialsAndHyphenatedWords() {
        assertEquals(List.of("st.", "louis", "at", "3:45", "p.m.", "plan", "b."),
                PtbTokenizer.tokenize("St. Louis at 3:45 p.m. plan b."));
        assertEquals(List.of("a", "black-and-white", "3-year-old", "dog", "3.5", "mm"),
                PtbTokenizer.tokenize("A black-and-white 3-year-old dog -- 3.5mm!"));
    }

    @Test
    void emptyAndPunctuationOnlyCaptionsGiveNoTokens() {
        assertEquals(List.of(), PtbTokenizer.tokenize(""));
        assertEquals(List.of(), PtbTokenizer.tokenize(" ... , ; !"));
    }

    @Test
    void matchesCoreNlpOnHandWrittenTrickyStrings() throws Exception {
        List<String> lines = Files.readAllLines(Path.of(getClass().getResource("/eval/ptb_tricky.txt").toURI()));
        assertTrue(lines.size() >= 90);
        assertAgreesWithCoreNlp(lines);
    }

    @Test
    void matchesCoreNlpOnAllCocoMiniCaptions() throws Exception {
        JsonNode anns = new ObjectMapper().readTree(TestSupport.sharedData("coco-mini").resolve("captions.json")
                .toFile()).get("annotations");
        List<String> captions = new ArrayList<>();
        anns.forEach(a -> captions.add(a.get("caption").textValue().replace('\n', ' ')));
        assertEquals(1195, captions.size());
        assertAgreesWithCoreNlp(captions);
    }

    /** Runs {@code PTBTokenizer -preserveLines -lowerCase FILE} (coco-caption's command) and compares each line. */
    private void assertAgreesWithCoreNlp(List<String> lines) throws Exception {
        Path in = tmp.resolve("captions.txt");
        Files.writeString(in, String.join("\n", lines), StandardCharsets.UTF_8);
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            edu.stanford.nlp.process.PTBTokenizer.main(new String[] {"-preserveLines", "-lowerCase", in.toString()});
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        String[] expected = buf.toString(StandardCharsets.UTF_8).split("\n", -1);
        for (int i = 0; i < lines.size(); i++) {
            List<String> exp = Arrays.asList(expected[i].strip().split(" "));
            if (expected[i].isBlank()) {
                exp = List.of();
            }
            assertEquals(exp, PtbTokenizer.ptbTokens(lines.get(i)), "line " + (i + 1) + ": " + lines.get(i));
            List<String> coco = exp.stream().filter(t -> !PtbTokenizer.COCO_PUNCTUATION.contains(t)).toList();
            assertEquals(coco, PtbTokenizer.tokenize(lines.get(i)), "coco tokens, line " + (i + 1));
        }
    }
}
