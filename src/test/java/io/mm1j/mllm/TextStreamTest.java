package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Text deltas: stop strings across token boundaries, held-back prefixes, whole UTF-8 characters only. */
class TextStreamTest {
    /** A tokenizer whose id i decodes to pieces[i]. */
    static Function<long[], String> pieces(String... pieces) {
        return ids -> {
            StringBuilder sb = new StringBuilder();
            for (long id : ids) {
                sb.append(pieces[(int) id]);
            }
            return sb.toString();
        };
    }

    /** A byte-level tokenizer: id = one byte; an incomplete sequence decodes to U+FFFD like HF's decoders. */
    static final Function<long[], String> BYTES = ids -> {
        byte[] b = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            b[i] = (byte) ids[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    };

    static List<String> push(TextStream s, long... ids) {
        List<String> out = new ArrayList<>();
        for (long id : ids) {
            out.add(s.push(id));
        }
        return out;
    }

    /** A SentencePiece (Metaspace) decoder: '▁' is a space, and the one leading a decoded text is dropped. */
    static final Function<long[], String> METASPACE = ids -> {
        String t = pieces("▁Tom", "▁had", "▁a", "▁big", "▁box", ".").apply(ids).replace('▁', ' ');
        return t.startsWith(" ") ? t.substring(1) : t;
    };

    @Test
    void aContinuationKeepsTheLeadingSpaceOfItsFirstWord() {
        assertEquals(List.of("big", " box", "."), push(new TextStream(METASPACE, List.of()), 3, 4, 5),
                "alone, the first word's space is dropped (a chat answer)");
        TextStream after = new TextStream(METASPACE, List.of(), new long[] {1, 2}); // "... had a"
        assertEquals(List.of(" big", " box", "."), push(after, 3, 4, 5));
        assertEquals(" big box.", after.text());
        // the prompt's last ids up to an image run only
        Prompt p = new Prompt(new long[] {1, 9, 9, 2, 3, 4, 5, 6}, List.of(), new int[0], 9);
        assertEquals(List.of(3L, 4L, 5L, 6L), java.util.Arrays.stream(TextStream.context(p)).boxed().toList());
        Prompt img = new Prompt(new long[] {1, 2, 9, 9, 3}, List.of(), new int[0], 9);
        assertEquals(List.of(3L), java.util.Arrays.stream(TextStream.context(img)).boxed().toList());
    }

    @Test
    void aStopStringSplitOverThreeTokensIsNeverEmitted() {
        TextStream s = new TextStream(pieces("Hel", "lo E", "N", "D more"), List.of("END"));
        assertEquals(List.of("Hel", "lo ", "", ""), push(s, 0, 1, 2, 3));
        assertEquals("END", s.matchedStop());
        assertEquals("Hello ", s.text());
        assertEquals("", s.finish());
    }

    @Test
    void aHeldBackPrefixIsReleasedWhenItTurnsOutNotToBeAStop() {
        TextStream s = new TextStream(pieces("a E", "x", " EN"), List.of("END"));
        assertEquals(List.of("a ", "Ex", " "), push(s, 0, 1, 2));
        assertNull(s.matchedStop());
        assertEquals("EN", s.finish(), "the end of generation releases what was held");
        assertEquals("a Ex EN", s.text());
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        TextStream s = new TextStream(pieces("x\ny</s>"), List.of("</s>", "\n"));
        assertEquals(List.of("x"), push(s, 0));
        assertEquals("\n", s.matchedStop());
    }

    @Test
    void multiByteCharactersAreEmittedWhole() {
        TextStream s = new TextStream(BYTES, List.of());
        // "aé€" = 61 C3A9 E282AC
        assertEquals(List.of("a", "", "é", "", "", "€"), push(s, 0x61, 0xC3, 0xA9, 0xE2, 0x82, 0xAC));
        assertEquals("aé€", s.text());
    }

    @Test
    void aStopStringAfterAMultiByteCharacter() {
        TextStream s = new TextStream(BYTES, List.of("é!"));
        assertEquals(List.of("", "", "", ""), push(s, 0xC3, 0xA9, 0x21, 0x7A), "é may start the stop: held");
        assertEquals("é!", s.matchedStop());
        assertEquals("", s.text());
    }
}
