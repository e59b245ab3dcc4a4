package io.mm1j.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The answer normalisation steps of the official VQA-style evaluations, kept with their quirks because published
 * accuracies include them. One instance per official script, since each ran under its own Python
 * ({@link PythonText}) with its own tables:
 * <ul>
 * <li>{@link #clean}: {@code \n} and {@code \t} become spaces, then Python's {@code strip()};
 * <li>{@link #punctuation} ({@code processPunctuation}): each listed character is deleted when it touches a space
 *     anywhere in the input, or when the input has a digit-comma-digit anywhere (then <em>every</em> listed
 *     character is deleted), otherwise replaced by a space; then a period not followed by a digit is deleted, at
 *     most 32 of them: the official code passes {@code re.UNICODE} (= 32) where {@code re.sub} expects the count.
 *     Its {@code (?!<=\d)} is a lookahead typo for a lookbehind and never blocks a match;
 * <li>{@link #digitArticle} ({@code processDigitArticle}): lower-case, split at whitespace, number words up to
 *     ten become digits ("none" becomes "0"), articles are dropped, apostrophe-less contractions get their
 *     apostrophe back, words joined by one space. Table entries with capitals ("Im", "Ive") never match
 *     lower-cased input, and "somebody'd" → "somebodyd" is kept as it is.
 * </ul>
 */
final class VqaNormalizer {
    /** VQA's {@code vqaEval.py} (GT-Vision-Lab/VQA, Python 2). */
    static final VqaNormalizer VQA = new VqaNormalizer(PythonText.PY2, VqaContractions.VQA, false);
    /** MMF's {@code EvalAIAnswerProcessor} (facebookresearch/mmf {@code m4c_evaluators.py}, Python 3). */
    static final VqaNormalizer TEXTVQA = new VqaNormalizer(PythonText.PY3, VqaContractions.VQA, true);
    /** VizWiz's {@code vqaEval.py} (vizwiz.org, Python 3, typographic apostrophes in its table). */
    static final VqaNormalizer VIZWIZ = new VqaNormalizer(PythonText.PY3, VqaContractions.VIZWIZ, false);

    private static final List<String> PUNCT = List.of(";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\",
            "_", "-", ">", "<", "@", "`", ",", "?", "!");
    private static final int PERIOD_STRIP_COUNT = 32; // re.UNICODE == 32, passed as re.sub's count
    private static final Set<String> ARTICLES = Set.of("a", "an", "the");
    private static final Map<String, String> NUMBERS = Map.ofEntries(Map.entry("none", "0"), Map.entry("zero", "0"),
            Map.entry("one", "1"), Map.entry("two", "2"), Map.entry("three", "3"), Map.entry("four", "4"),
            Map.entry("five", "5"), Map.entry("six", "6"), Map.entry("seven", "7"), Map.entry("eight", "8"),
            Map.entry("nine", "9"), Map.entry("ten", "10"));

    private final PythonText py;
    private final Map<String, String> contractions;
    private final Pattern periodStrip;
    private final Pattern commaStrip;

    /** @param mmf MMF's variant: its comma rule is {@code (?<=\d)(\,)+(?=\d)} (same matches, found anywhere) */
    private VqaNormalizer(PythonText py, Map<String, String> contractions, boolean mmf) {
        this.py = py;
        this.contractions = contractions;
        String d = py.digit;
        this.periodStrip = Pattern.compile("(?!<=" + d + ")(\\.)(?!" + d + ")");
        this.commaStrip = Pattern.compile(mmf ? "(?<=" + d + ")(,)+(?=" + d + ")" : "(" + d + ")(,)(" + d + ")");
    }

    /** {@code x.replace('\n', ' ').replace('\t', ' ').strip()}. */
    String clean(String x) {
        return py.strip(x.replace('\n', ' ').replace('\t', ' '));
    }

    /** {@code processDigitArticle(processPunctuation(x))}. */
    String full(String x) {
        return digitArticle(punctuation(x));
    }

    /**
     * MMF's {@code word_tokenize}, the first step of its processor: lower-case, delete every "," and "?", put a
     * space before "'s", strip. (It deletes the commas before the digit-comma-digit rule could see them.)
     */
    String wordTokenize(String x) {
        return py.strip(py.lower(x).replace(",", "").replace("?", "").replace("'s", " 's"));
    }

    /** {@code processPunctuation}. */
    String punctuation(String in) {
        String out = in;
        boolean digitComma = commaStrip.matcher(in).find();
        for (String p : PUNCT) {
            if (in.contains(p + " ") || in.contains(" " + p) || digitComma) {
                out = out.replace(p, "");
            } else {
                out = out.replace(p, " ");
            }
        }
        Matcher m = periodStrip.matcher(out);
        StringBuilder sb = new StringBuilder();
        int count = 0;
        while (count < PERIOD_STRIP_COUNT && m.find()) {
            m.appendReplacement(sb, "");
            count++;
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /** {@code processDigitArticle}. */
    String digitArticle(String in) {
        List<String> out = new ArrayList<>();
        for (String word : py.split(py.lower(in))) {
            word = NUMBERS.getOrDefault(word, word);
            if (!ARTICLES.contains(word)) {
                out.add(contractions.getOrDefault(word, word));
            }
        }
        return String.join(" ", out);
    }
}
