package io.mm1j.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The tokenisation coco-caption applies before every caption metric: Stanford's PTBTokenizer (CoreNLP 3.4.1, run as
 * {@code PTBTokenizer -preserveLines -lowerCase}, one caption per line) followed by the removal of coco-caption's
 * punctuation tokens. CIDEr, BLEU and ROUGE-L all count n-grams over these tokens, so a different tokeniser shifts
 * every score; that is why this class imitates the Stanford lexer token for token rather than splitting on spaces.
 *
 * <p>Rules covered (each checked against CoreNLP 3.4.1 in {@code PtbTokenizerTest}): words with inner hyphens,
 * slashes and underscores; numbers with {@code . , : /}; clitics split off ({@code do n't}, {@code ca n't},
 * {@code it 's}, {@code we 've}) and the assimilations {@code can not}, {@code gon na}, {@code wan na},
 * {@code got ta}, {@code lem me}, {@code gim me}; {@code o'clock}-style words kept whole; LaTeX-style quotes
 * ({@code `` '' ` '}) whose direction follows the neighbours; brackets as {@code -LRB- -RRB- -LSB- -RSB- -LCB- -RCB-};
 * dash runs and en/em dashes as {@code --}; ellipses ({@code ...}, {@code …}, {@code . . .}) as {@code ...};
 * runs of {@code ?!} as one token; single-letter initials, dotted acronyms and the lexer's abbreviation list keep
 * their period (and the "sentence-final" abbreviations add a period token before a capitalised word).
 * Known divergences (absent from captions): URLs, e-mail addresses, emoticons, SGML tags, HTML entities other
 * than {@code &amp;}, {@code U+2011}, and the period token the lexer adds after a line-final acronym when the
 * next caption starts with "The"/"A"… (it looks across lines; that token is removed by coco-caption anyway).
 *
 * <p>Line breaks inside a caption are treated as spaces: coco-caption replaces {@code \n} by a space itself, and
 * any other line terminator would break its one-caption-per-line alignment.
 */
public final class PtbTokenizer {
    /** coco-caption's {@code PUNCTUATIONS}; compared after lower-casing, so {@code -lrb-} survives (as in coco). */
    static final Set<String> COCO_PUNCTUATION = Set.of("''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".",
            "?", "!", ",", ":", "-", "--", "...", ";");

    private static final Map<Integer, String> BRACKETS = Map.of((int) '(', "-LRB-", (int) ')', "-RRB-", (int) '[',
            "-LSB-", (int) ']', "-RSB-", (int) '{', "-LCB-", (int) '}', "-RCB-");

    /** Whole words the lexer splits in two ("splitAssimilations"): word → length of the first part. */
    private static final Map<String, Integer> ASSIMILATIONS = Map.of("cannot", 3, "gonna", 3, "gotta", 3, "wanna", 3,
            "lemme", 3, "gimme", 3);

    private static final Set<String> CLITICS = Set.of("s", "m", "d", "re", "ve", "ll");

    private final String s;
    private final List<String> out = new ArrayList<>();
    private int pos;

    private PtbTokenizer(String s) {
        this.s = s;
    }

    /** Caption → tokens exactly as coco-caption feeds them to the scorers (lower-cased, punctuation removed). */
    public static List<String> tokenize(String caption) {
        List<String> kept = new ArrayList<>();
        for (String t : ptbTokens(caption)) {
            if (!COCO_PUNCTUATION.contains(t)) {
                kept.add(t);
            }
        }
        return kept;
    }

    /** Caption → the tokens {@code PTBTokenizer -preserveLines -lowerCase} prints for it, before removal. */
    public static List<String> ptbTokens(String caption) {
        PtbTokenizer t = new PtbTokenizer(caption.replace('‘', '\'').replace('’', '\''));
        t.run();
        List<String> lower = new ArrayList<>(t.out.size());
        for (String tok : t.out) {
            lower.add(tok.toLowerCase(Locale.ENGLISH));
        }
        return lower;
    }

    private void run() {
        while (pos < s.length()) {
            int c = s.codePointAt(pos);
            if (isSpace(c)) {
                pos += Character.charCount(c);
            } else if (isAlnum(c)) {
                word();
            } else {
                symbol(c);
            }
        }
    }

    /** Punctuation and symbols: one token each, with the PTB normalisations. */
    private void symbol(int c) {
        int n = Character.charCount(c);
        if (c == '.') {
            dots();
        } else if (c == '…') {
            emit("...", 1);
        } else if (c == '"') {
            emit(opens(pos, 1) ? "``" : "''", 1);
        } else if (c == '“') {
            emit("``", 1);
        } else if (c == '”') {
            emit("''", 1);
        } else if (c == '`') {
            emit(s.startsWith("``", pos) ? "``" : "`", s.startsWith("``", pos) ? 2 : 1);
        } else if (c == '\'') {
            apostrophe();
        } else if (BRACKETS.containsKey(c)) {
            emit(BRACKETS.get(c), 1);
        } else if (c == '—' || c == '–' || c == '―') {
            emit("--", 1);
        } else if (c == '-' || c == '+') {
            int run = runOf(pos, '-');
            if (c == '-' && run >= 2) {
                emit("--", run);
            } else if (pos + 1 < s.length() && Character.isDigit(s.charAt(pos + 1))) {
                int end = scanNumber(pos + 1); // a signed number: "-5", "+2"
                emit(s.substring(pos, end), end - pos);
            } else {
                emit(String.valueOf((char) c), 1);
            }
        } else if (c == '?' || c == '!') {
            int end = pos;
            while (end < s.length() && (s.charAt(end) == '?' || s.charAt(end) == '!')) {
                end++;
            }
            emit(s.substring(pos, end), end - pos);
        } else if (c == '*' || c == '_') {
            emit(s.substring(pos, pos + runOf(pos, (char) c)), runOf(pos, (char) c));
        } else if (c == '&') {
            boolean entity = s.startsWith("&amp;", pos);
            emit("&", entity ? 5 : 1);
        } else if (c == '€') {
            emit("$", 1);
        } else if (c == '£') {
            emit("#", 1);
        } else if (c == '½' || c == '¼' || c == '¾') {
            emit(c == '½' ? "1/2" : c == '¼' ? "1/4" : "3/4", 1);
        } else if ((c == '#' || c == '@') && pos + 1 < s.length() && Character.isLetter(s.charAt(pos + 1))) {
            int end = pos + 1;
            while (end < s.length() && isAlnum(s.codePointAt(end))) {
                end += Character.charCount(s.codePointAt(end));
            }
            emit(s.substring(pos, end), end - pos);
        } else if (Character.isSupplementaryCodePoint(c) && Character.getType(c) == Character.OTHER_SYMBOL) {
            pos += n; // emoji: the lexer reports them as untokenizable and drops them
        } else {
            emit(new String(Character.toChars(c)), n);
        }
    }

    /** Periods: "..." (3+ dots, or ". . ."), else a lone "." each. */
    private void dots() {
        int run = runOf(pos, '.');
        if (run >= 3) {
            emit("...", run);
            return;
        }
        int end = pos + 1;
        int dotsSpaced = 1;
        while (end + 1 < s.length() && s.charAt(end) == ' ' && s.charAt(end + 1) == '.') {
            end += 2;
            dotsSpaced++;
        }
        if (run == 1 && dotsSpaced >= 3) {
            emit("...", end - pos);
        } else {
            emit(".", 1);
        }
    }

    /** An apostrophe not inside a word: a clitic ('s), a quoted decade ('90s), 'tis/'twas, or a quote mark. */
    private void apostrophe() {
        if (s.startsWith("''", pos)) {
            emit("''", 2);
            return;
        }
        String rest = s.substring(pos + 1);
        int letters = leadingLetters(rest);
        String w = rest.substring(0, letters).toLowerCase(Locale.ROOT);
        if (letters > 0 && CLITICS.contains(w)) {
            emit(s.substring(pos, pos + 1 + letters), 1 + letters);
        } else if (rest.startsWith("n'")) {
            emit("'n'", 3);
        } else if (w.equals("em") || w.equals("til") || w.equals("cause")) {
            emit(s.substring(pos, pos + 1 + letters), 1 + letters);
        } else if (w.equals("tis") || w.equals("twas")) {
            emit(s.substring(pos, pos + 2), 2); // "'t" then "is"/"was" as a word
        } else if ((pos == 0 || !isAlnum(s.codePointBefore(pos))) && rest.length() >= 2
                && Character.isDigit(rest.charAt(0)) && Character.isDigit(rest.charAt(1))
                && (rest.length() == 2 || !Character.isDigit(rest.charAt(2)))) {
            int len = rest.length() >= 3 && rest.charAt(2) == 's' && rest.charAt(1) == '0' ? 4 : 3;
            emit(s.substring(pos, pos + len), len); // '90s, '96
        } else {
            // opens before a word ('Hi', 'x'), but not before a lone letter and a space ('I am' → ' I am)
            boolean lone = letters == 1 && (rest.length() == 1 || isSpace(rest.charAt(1)));
            boolean open = letters > 0 && !lone && (pos == 0 || !Character.isLetter(s.codePointBefore(pos)));
            emit(open ? "`" : "'", 1);
        }
    }

    /** A word or number starting at {@code pos}, with its clitic split off and its period when it keeps one. */
    private void word() {
        int start = pos;
        int wordEnd = scanWord(pos);
        int numEnd = scanNumber(pos);
        int acroEnd = scanAcronym(pos);
        int end = Math.max(wordEnd, Math.max(numEnd, acroEnd));
        if (acroEnd == end && acroEnd > wordEnd) {
            emit(s.substring(start, end), end - start);
            if (Abbreviations.startsSentence(nextWord())) {
                out.add("."); // the lexer takes "U.S. The" as a sentence end and doubles the period
            }
            return;
        }
        int fracEnd = scanMixedFraction(start);
        if (fracEnd > end) {
            emit(s.substring(start, fracEnd).replace(' ', '\u00a0'), fracEnd - start); // "2 1/2": one token
            return;
        }
        // o'clock, d'angelo: one letter, an apostrophe, two or more letters (but y' and x'y are split)
        if (end == start + 1 && Character.isLetter(s.charAt(start)) && "iIyY".indexOf(s.charAt(start)) < 0
                && end < s.length() && s.charAt(end) == '\'' && leadingLetters(s.substring(end + 1)) >= 2) {
            end = scanWord(end + 1);
        } else if (end < s.length() && s.charAt(end) == '\'' && vowelApostrophe(start, end)) {
            end = scanWord(end + 1); // ma'am
        }
        String w = s.substring(start, end);
        String lw = w.toLowerCase(Locale.ROOT);
        if (ASSIMILATIONS.containsKey(lw)) {
            int cut = ASSIMILATIONS.get(lw);
            out.add(w.substring(0, cut));
            out.add(w.substring(cut));
            pos = end;
            return;
        }
        if (s.regionMatches(true, end, "'t", 0, 2) && lw.endsWith("n") && lw.length() > 1
                && (end + 2 == s.length() || !Character.isLetter(s.charAt(end + 2)))) {
            out.add(w.substring(0, w.length() - 1)); // do|n't, ca|n't, wo|n't
            out.add(s.substring(end - 1, end + 2));
            pos = end + 2;
            return;
        }
        if ((lw.equals("y") || lw.equals("ol")) && end < s.length() && s.charAt(end) == '\'') {
            emit(w + "'", end + 1 - start); // y'all → y' all, ol'
            return;
        }
        if (end < s.length() && s.charAt(end) == '.' && keepsPeriod(w, end)) {
            emit(w + ".", end + 1 - start);
            if (Abbreviations.endsSentence(w) && capitalFollows()) {
                out.add(".");
            }
            return;
        }
        emit(w, end - start);
    }

    /** A word's period belongs to it for initials ("b."), listed abbreviations and "No." before a number. */
    private boolean keepsPeriod(String w, int dot) {
        boolean dottedRun = dot + 1 < s.length() && s.charAt(dot + 1) == '.';
        if (w.length() == 1 && Character.isLetter(w.charAt(0))) {
            return true;
        }
        if (dottedRun) {
            return false;
        }
        if (w.equalsIgnoreCase("no")) {
            int i = dot + 1;
            while (i < s.length() && s.charAt(i) == ' ') {
                i++;
            }
            return i > dot + 1 && i < s.length() && Character.isDigit(s.charAt(i));
        }
        return Abbreviations.keepsPeriod(w);
    }

    private boolean capitalFollows() {
        int i = pos;
        while (i < s.length() && isSpace(s.charAt(i))) {
            i++;
        }
        return i > pos && i < s.length() && Character.isUpperCase(s.codePointAt(i));
    }

    /** Letters, digits and marks, joined by single inner hyphens, slashes or underscores (x-ray, and/or, a_b). */
    private int scanWord(int i) {
        int end = alnumRun(i);
        while (end + 1 < s.length() && "-/_&".indexOf(s.charAt(end)) >= 0 && isAlnum(s.codePointAt(end + 1))) {
            if (s.charAt(end) == '&' && !(Character.isUpperCase(s.charAt(end - 1))
                    && Character.isUpperCase(s.charAt(end + 1)))) {
                break; // only AT&T-style capitals keep an ampersand
            }
            end = alnumRun(end + 1);
        }
        return end;
    }

    /** "2 1/2": up to 4 digits, one space, a fraction of up to 4-digit parts; the lexer joins them with U+00A0. */
    private int scanMixedFraction(int i) {
        int whole = digitRun(i);
        if (whole - i > 4 || whole + 1 >= s.length() || s.charAt(whole) != ' ') {
            return i;
        }
        int num = digitRun(whole + 1);
        if (num == whole + 1 || num - whole - 1 > 4 || num + 1 >= s.length() || s.charAt(num) != '/') {
            return i;
        }
        int den = digitRun(num + 1);
        boolean clean = den < s.length() ? !Character.isDigit(s.charAt(den)) : true;
        return den > num + 1 && den - num - 1 <= 4 && clean ? den : i;
    }

    /** The word after the spaces at {@code pos} (empty if none, or if it is itself dotted like "A.M."). */
    private String nextWord() {
        int i = pos;
        while (i < s.length() && s.charAt(i) == ' ') {
            i++;
        }
        int end = alnumRun(i);
        return i == pos || end < s.length() && s.charAt(end) == '.' ? "" : s.substring(i, end);
    }

    /** Digits with inner {@code . , : /} groups: 3.5, 1,000.00, 10:30, 12/25/2010. */
    private int scanNumber(int i) {
        if (!Character.isDigit(s.charAt(i))) {
            return i;
        }
        int end = digitRun(i);
        while (end + 1 < s.length() && ".,:/".indexOf(s.charAt(end)) >= 0 && Character.isDigit(s.charAt(end + 1))) {
            end = digitRun(end + 1);
        }
        return end;
    }

    /** Dotted single letters ending in a period: U.S., e.g., a.k.a., p.m. */
    private int scanAcronym(int i) {
        if (s.regionMatches(true, i, "ph.d.", 0, 5)) {
            return i + 5; // the one multi-letter dotted abbreviation on the lexer's list
        }
        int end = i;
        int letters = 0;
        while (end + 1 < s.length() && Character.isLetter(s.charAt(end)) && s.charAt(end + 1) == '.'
                && (letters == 0 || s.charAt(end - 1) == '.')) {
            end += 2;
            letters++;
        }
        boolean alnumAfter = end < s.length() && isAlnum(s.codePointAt(end));
        return letters >= 2 && !alnumAfter ? end : i;
    }

    /** "ma'am": a vowel before the apostrophe and a vowel (or capital) after it. */
    private boolean vowelApostrophe(int start, int apos) {
        if (apos - start < 2 || apos + 1 >= s.length()) {
            return false;
        }
        char before = s.charAt(apos - 1);
        char after = s.charAt(apos + 1);
        return "aeiouyAEIOUY".indexOf(before) >= 0 && ("aeiou".indexOf(after) >= 0 || Character.isUpperCase(after))
                && !CLITICS.contains(s.substring(apos + 1, apos + 1 + leadingLetters(s.substring(apos + 1)))
                        .toLowerCase(Locale.ROOT));
    }

    /** Whether a straight double quote opens: an alphanumeric follows and none precedes. */
    private boolean opens(int i, int len) {
        boolean before = i > 0 && isAlnum(s.codePointBefore(i));
        boolean after = i + len < s.length() && isAlnum(s.codePointAt(i + len));
        return after && !before;
    }

    private int alnumRun(int i) {
        while (i < s.length() && isAlnum(s.codePointAt(i))) {
            i += Character.charCount(s.codePointAt(i));
        }
        return i;
    }

    private int digitRun(int i) {
        while (i < s.length() && Character.isDigit(s.charAt(i))) {
            i++;
        }
        return i;
    }

    private int runOf(int i, char c) {
        int end = i;
        while (end < s.length() && s.charAt(end) == c) {
            end++;
        }
        return end - i;
    }

    private static int leadingLetters(String t) {
        int i = 0;
        while (i < t.length() && Character.isLetter(t.charAt(i))) {
            i++;
        }
        return i;
    }

    private void emit(String token, int consumed) {
        out.add(token);
        pos += consumed;
    }

    static boolean isAlnum(int c) {
        int t = Character.getType(c);
        return Character.isLetterOrDigit(c) || t == Character.NON_SPACING_MARK || t == Character.COMBINING_SPACING_MARK;
    }

    static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
    }
}
