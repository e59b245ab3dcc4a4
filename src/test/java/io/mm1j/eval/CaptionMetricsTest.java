package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * BLEU / ROUGE-L / CIDEr-D against values worked out independently: by hand for the small cases, and for the
 * three-image set by a separate numpy re-statement of coco-caption's formulas (constants pasted below).
 */
class CaptionMetricsTest {
    private static List<String> w(String s) {
        return s.isEmpty() ? List.of() : Arrays.asList(s.split(" "));
    }

    private static final List<List<String>> CANDS = List.of(w("a man riding a horse on a beach"), w("two dogs play"),
            w("a red bus"));
    private static final List<List<List<String>>> REFS = List.of(
            List.of(w("a man rides a horse on the beach"), w("a person riding a horse near the ocean"),
                    w("man on horse")),
            List.of(w("two dogs playing in the grass"), w("dogs play together"), w("two puppies play in a yard")),
            List.of(w("a red double decker bus"), w("a bus that is red"), w("the red bus on a street")));

    @Test
    void bleuMatchesIndependentComputation() {
        // guess [14, 11, 8, 5], correct [13, 8, 2, 0], testlen 14, closest reflen 16 → brevity penalty e^(1-16/14)
        double[] expected = {0.8049580496530322, 0.712384137109362, 0.4791176171205874, 6.608130131085077e-05};
        assertArrayEquals(expected, Bleu.score(CANDS, REFS), 1e-12);
    }

    @Test
    void bleu1ByHandIsClippedPrecisionTimesBrevityPenalty() {
        // "the the the" vs "the cat": clipped matches 1 of 3; closest ref length 2 ≥ 3? no → no penalty
        double[] b = Bleu.score(List.of(w("the the the")), List.of(List.of(w("the cat"))));
        assertEquals(1.0 / 3, b[0], 1e-9);
        // a candidate shorter than its reference: 2/2 matches, penalty exp(1 - 4/2)
        double[] s = Bleu.score(List.of(w("the cat")), List.of(List.of(w("the cat sat down"))));
        assertEquals(Math.exp(-1), s[0], 1e-9);
    }

    @Test
    void bleuPicksClosestReferenceLengthPreferringShorterOnTies() {
        // candidate length 4, refs of length 3 and 5: tie → 3, so no brevity penalty and BLEU-1 = 4/4 matches
        double[] b = Bleu.score(List.of(w("a b c d")), List.of(List.of(w("a b c"), w("a b c d e"))));
        assertEquals(1.0, b[0], 1e-9);
    }

    @Test
    void rougeLMatchesIndependentComputation() {
        assertEquals(0.711437908496732, RougeL.score(CANDS, REFS), 1e-12);
        assertArrayEquals(new double[] {0.75, 0.6666666666666666, 0.7176470588235294},
                RougeL.perImage(CANDS, REFS), 1e-12);
    }

    @Test
    void rougeLByHand() {
        // LCS("a red bus", "the red bus on a street") = 2 → P = 2/3, R = 2/6; F = 2.44·P·R / (R + 1.44·P)
        double p = 2.0 / 3;
        double r = 2.0 / 6;
        double f = (1 + 1.44) * p * r / (r + 1.44 * p);
        assertEquals(f, RougeL.image(w("a red bus"), List.of(w("the red bus on a street"))), 1e-12);
        assertEquals(3, RougeL.lcs(w("a b c d e"), w("x a c y e")));
    }

    @Test
    void ciderDMatchesIndependentComputation() {
        assertEquals(2.1574146473883533, CiderD.score(CANDS, REFS), 1e-12);
        assertArrayEquals(new double[] {2.2945641036650533, 1.964312977081981, 2.2133668614180255},
                CiderD.perImage(CANDS, REFS), 1e-12);
    }

    @Test
    void ciderDOfAPerfectCaptionIsTenWhenEveryNgramIsRare() {
        // two images with disjoint single references: each n-gram has df 1, the candidate equals its reference,
        // cosine 1 at every order, no length penalty → 10
        List<List<String>> c = List.of(w("a red bus parked"), w("two dogs play outside"));
        List<List<List<String>>> r = List.of(List.of(w("a red bus parked")), List.of(w("two dogs play outside")));
        assertArrayEquals(new double[] {10.0, 10.0}, CiderD.perImage(c, r), 1e-12);
    }

    @Test
    void ciderDIsZeroForNgramsThatOccurInEveryImage() {
        // one image: idf = log 1 − log 1 = 0 for every reference n-gram, so nothing can score
        assertEquals(0.0, CiderD.score(List.of(w("a cat")), List.of(List.of(w("a cat")))), 0.0);
    }

    @Test
    void ciderDLengthPenaltyUsesBigramCounts() {
        // two images, one reference each; every reference n-gram has df 1, so each weight is tf·log 2
        List<List<List<String>>> r = List.of(List.of(w("x y")), List.of(w("p q")));
        double exact = CiderD.perImage(List.of(w("x y"), w("p q")), r)[0];
        double longer = CiderD.perImage(List.of(w("x y x y"), w("p q")), r)[0];
        // a two-word caption has no 3- or 4-grams: orders 1 and 2 give cosine 1, orders 3 and 4 give 0 → 10·2/4
        assertEquals(5.0, exact, 1e-12);
        // "x y x y": unigrams h=(2w,2w) vs r=(w,w): Σmin(h,r)·r / |h||r| = 2w²/4w² = 1/2; bigrams h=("x y" 2v,
        // "y x" v) vs r=("x y" v): v²/(√5v·v) = 1/√5. Length = bigram count: 3 vs 1 → Δ = 2, factor e^(−4/72)
        assertEquals(10.0 * (0.5 + 1 / Math.sqrt(5)) / 4 * Math.exp(-4.0 / 72), longer, 1e-12);
    }
}
