package io.mm1j.eval;

import java.util.Locale;
import java.util.Set;

/**
 * The abbreviations whose period CoreNLP 3.4.1's PTB lexer keeps on the word ("Dr.", "etc.", "Calif."), observed
 * by running that lexer on each entry in lower, capitalised and upper case. Two behaviours matter:
 * the word keeps its period (so "st. louis" stays {@code st. louis} after coco-caption's punctuation removal,
 * whereas "house." becomes {@code house}), and the "sentence-final" ones add a separate {@code .} token when a
 * capitalised word follows ("Jr. The" → {@code jr. . the}), because the lexer assumes the sentence ended there.
 */
final class Abbreviations {
    private Abbreviations() {}

    /** Keep the period; may end a sentence (months, weekdays, states, company and name suffixes). */
    private static final Set<String> SENTENCE_FINAL = Set.of("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
            "sept", "oct", "nov", "dec", "mon", "tue", "tues", "wed", "thu", "thurs", "fri", "ala", "ariz", "calif",
            "colo", "conn", "fla", "ga", "ind", "kan", "kans", "ky", "md", "mich", "minn", "mo", "mont", "neb", "nev",
            "okla", "penn", "tenn", "va", "vt", "wis", "wisc", "wyo", "rd", "blvd", "sq", "jr", "sr", "bros", "inc", "co",
            "corp", "ltd", "cos", "plc", "bhd", "etc", "al", "est", "esq", "ph.d", "assn", "univ");

    /** Keep the period only when capitalised: in lower case these are ordinary words ("ill.", "mass."). */
    private static final Set<String> CAPITALISED_STATES = Set.of("ark", "del", "ill", "la", "mass", "miss", "ore",
            "pa", "tex", "wash");

    /** Keep the period and never end a sentence (titles and street words precede a name). */
    private static final Set<String> TITLES = Set.of("mr", "mrs", "ms", "messrs", "dr", "drs", "prof", "gen", "gov",
            "rep", "sen", "sens", "lt", "col", "capt", "cmdr", "sgt", "adm", "maj", "brig", "rev", "hon", "st", "mt",
            "ave", "ft", "cie", "mfg", "vs", "cf", "dept", "ste", "mme", "mlle", "pres", "supt", "insp", "det", "ph");

    /**
     * Capitalised words after which the lexer reads a dotted acronym ("U.S.", "a.m.") as ending a sentence; the
     * list is what 3.4.1 was observed to do (it does not include "I", "And", "On", "Of", "To", "For", "With").
     */
    private static final Set<String> SENTENCE_STARTERS = Set.of("the", "he", "she", "it", "they", "we", "but", "in",
            "a", "an", "this", "that", "there", "these", "her", "their", "our", "you", "if", "when", "while", "as", "at");

    static boolean startsSentence(String word) {
        return !word.isEmpty() && Character.isUpperCase(word.charAt(0))
                && SENTENCE_STARTERS.contains(word.toLowerCase(Locale.ROOT));
    }

    static boolean keepsPeriod(String word) {
        String w = word.toLowerCase(Locale.ROOT);
        if (w.equals("mfg") && word.equals("MFG")) {
            return false; // the lexer lists Mfg/mfg only
        }
        if (CAPITALISED_STATES.contains(w)) {
            return Character.isUpperCase(word.charAt(0));
        }
        return SENTENCE_FINAL.contains(w) || TITLES.contains(w);
    }

    static boolean endsSentence(String word) {
        String w = word.toLowerCase(Locale.ROOT);
        return SENTENCE_FINAL.contains(w) || CAPITALISED_STATES.contains(w) && keepsPeriod(word);
    }
}
