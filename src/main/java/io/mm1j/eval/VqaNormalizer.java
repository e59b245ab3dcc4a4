package io.mm1j.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The answer normalisation of the official VQA evaluation ({@code vqaEval.py}, GT-Vision-Lab/VQA), kept with its
 * quirks because published VQA accuracies include them: punctuation is deleted when it touches a space (or when the
 * answer contains a digit-comma-digit), otherwise replaced by a space; a period not followed by a digit is deleted,
 * at most 32 of them (the official code passes {@code re.UNICODE} where {@code re.sub} expects a count); then words
 * are lower-cased, number words up to ten become digits ("none" becomes "0"), articles are dropped and
 * apostrophe-less contractions get their apostrophe back. Entries of the table that can never match lower-cased
 * input ("Im", "Ive") are kept as they are, as is its odd "somebody'd" → "somebodyd".
 */
public final class VqaNormalizer {
    private VqaNormalizer() {}

    private static final List<String> PUNCT = List.of(";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\",
            "_", "-", ">", "<", "@", "`", ",", "?", "!");
    /** The official regex verbatim; its "(?!<=\d)" is a lookahead typo for a lookbehind and never blocks a match. */
    private static final Pattern PERIOD_STRIP = Pattern.compile("(?!<=\\d)(\\.)(?!\\d)");
    private static final Pattern COMMA_STRIP = Pattern.compile("(\\d)(,)(\\d)");
    private static final int PERIOD_STRIP_COUNT = 32; // re.UNICODE == 32, passed as re.sub's count
    private static final Set<String> ARTICLES = Set.of("a", "an", "the");
    private static final Map<String, String> NUMBERS = Map.ofEntries(Map.entry("none", "0"), Map.entry("zero", "0"),
            Map.entry("one", "1"), Map.entry("two", "2"), Map.entry("three", "3"), Map.entry("four", "4"),
            Map.entry("five", "5"), Map.entry("six", "6"), Map.entry("seven", "7"), Map.entry("eight", "8"),
            Map.entry("nine", "9"), Map.entry("ten", "10"));

    /** The answer a prediction is compared as: trimmed, then {@link #punctuation} and {@link #digitArticle}. */
    public static String normalizeAnswer(String answer) {
        String a = answer.replace('\n', ' ').replace('\t', ' ');
        return digitArticle(punctuation(PythonText.strip(a)));
    }

    /** {@code processPunctuation}. */
    public static String punctuation(String in) {
        String out = in;
        boolean digitComma = COMMA_STRIP.matcher(in).find();
        for (String p : PUNCT) {
            if (in.contains(p + " ") || in.contains(" " + p) || digitComma) {
                out = out.replace(p, "");
            } else {
                out = out.replace(p, " ");
            }
        }
        Matcher m = PERIOD_STRIP.matcher(out);
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
    public static String digitArticle(String in) {
        List<String> out = new ArrayList<>();
        for (String word : PythonText.split(in.toLowerCase(Locale.ROOT))) {
            word = NUMBERS.getOrDefault(word, word);
            if (!ARTICLES.contains(word)) {
                out.add(VqaContractions.TABLE.getOrDefault(word, word));
            }
        }
        return String.join(" ", out);
    }
}
