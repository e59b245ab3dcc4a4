package io.mm1j.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The string operations of the Python that ran an official evaluation script. Argument-less {@code split()} and
 * {@code strip()} cut at any Unicode whitespace (also U+00A0 and U+0085), unlike Java's {@code trim()} or
 * {@code split("\\s+")}; and the two Pythons differ where answers can differ:
 * <ul>
 * <li>Python 2.7 (VQA's {@code vqaEval.py} is Python 2 code: it does not run on Python 3) reads JSON strings as
 *     {@code unicode} with the Unicode 5.2 database: U+180E counts as whitespace; {@code lower()} maps one code
 *     point to one code point (U+0130 → "i", no final sigma), and not the letters that got a lower case after 5.2
 *     (Cherokee, Georgian Mtavruli, …); a {@code str} pattern without {@code re.UNICODE} matches {@code \d} on
 *     ASCII digits only.
 * <li>Python 3 (TextVQA's MMF evaluator, VizWiz's script): no U+180E; full case mapping ("İ" → "i̇", final "Σ" →
 *     "ς"); {@code \d} is any Unicode decimal digit.
 * </ul>
 */
enum PythonText {
    PY2("\\d"),
    PY3("\\p{Nd}");

    /** Regex for one digit as this Python's {@code \d} matches it. */
    final String digit;

    PythonText(String digit) {
        this.digit = digit;
    }

    /**
     * Upper-case code points (and ranges, inclusive) whose simple lower-case mapping is newer than Unicode 5.2, so
     * Python 2.7 leaves them as they are. Found by comparing Python 2.7.18's {@code unicode.lower()} with Java 17's
     * {@link Character#toLowerCase(int)} over every code point, plus the cased letters of Unicode 14 and 16 so that
     * a newer JDK does not change the answer.
     */
    private static final int[] PY2_UNCASED = {
            0x37f, 0x37f, 0x526, 0x526, 0x528, 0x528, 0x52a, 0x52a, 0x52c, 0x52c, 0x52e, 0x52e, 0x10c7, 0x10c7,
            0x10cd, 0x10cd, 0x13a0, 0x13f5, 0x1c89, 0x1c89, 0x1c90, 0x1cba, 0x1cbd, 0x1cbf, 0x2c2f, 0x2c2f,
            0x2cf2, 0x2cf2, 0xa660, 0xa660, 0xa698, 0xa698, 0xa69a, 0xa69a, 0xa78d, 0xa78d, 0xa790, 0xa790,
            0xa792, 0xa792, 0xa796, 0xa796, 0xa798, 0xa798, 0xa79a, 0xa79a, 0xa79c, 0xa79c, 0xa79e, 0xa79e,
            0xa7a0, 0xa7a0, 0xa7a2, 0xa7a2, 0xa7a4, 0xa7a4, 0xa7a6, 0xa7a6, 0xa7a8, 0xa7a8, 0xa7aa, 0xa7ae,
            0xa7b0, 0xa7b4, 0xa7b6, 0xa7b6, 0xa7b8, 0xa7b8, 0xa7ba, 0xa7ba, 0xa7bc, 0xa7bc, 0xa7be, 0xa7be,
            0xa7c0, 0xa7c0, 0xa7c2, 0xa7c2, 0xa7c4, 0xa7c7, 0xa7c9, 0xa7c9, 0xa7cb, 0xa7cc, 0xa7d0, 0xa7d0,
            0xa7d6, 0xa7d6, 0xa7d8, 0xa7d8, 0xa7da, 0xa7da, 0xa7dc, 0xa7dc, 0xa7f5, 0xa7f5, 0x104b0, 0x104d3,
            0x10570, 0x10595, 0x10c80, 0x10cb2, 0x10d50, 0x10d65, 0x118a0, 0x118bf, 0x16e40, 0x16e5f,
            0x1e900, 0x1e921};

    boolean isSpace(int c) {
        if (c == 0x180e) {
            return this == PY2; // Zs in Unicode 5.2, Cf since 6.3
        }
        return c >= 0x09 && c <= 0x0d || c >= 0x1c && c <= 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680
                || c >= 0x2000 && c <= 0x200a || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f
                || c == 0x3000;
    }

    /** {@code s.split()}. */
    List<String> split(String s) {
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            while (i < s.length() && isSpace(s.charAt(i))) {
                i++;
            }
            int start = i;
            while (i < s.length() && !isSpace(s.charAt(i))) {
                i++;
            }
            if (i > start) {
                out.add(s.substring(start, i));
            }
        }
        return out;
    }

    /** {@code s.strip()}. */
    String strip(String s) {
        int a = 0;
        int b = s.length();
        while (a < b && isSpace(s.charAt(a))) {
            a++;
        }
        while (b > a && isSpace(s.charAt(b - 1))) {
            b--;
        }
        return s.substring(a, b);
    }

    /** {@code s.lower()}. */
    String lower(String s) {
        if (this == PY3) {
            return s.toLowerCase(Locale.ROOT);
        }
        StringBuilder sb = new StringBuilder(s.length());
        s.codePoints().forEach(c -> sb.appendCodePoint(py2Uncased(c) ? c : Character.toLowerCase(c)));
        return sb.toString();
    }

    private static boolean py2Uncased(int c) {
        for (int i = 0; i < PY2_UNCASED.length; i += 2) {
            if (c >= PY2_UNCASED[i] && c <= PY2_UNCASED[i + 1]) {
                return true;
            }
        }
        return false;
    }
}
