package io.mm1j.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * Python's argument-less {@code str.split()} and {@code str.strip()}: they cut at any Unicode whitespace (also
 * U+00A0 and U+0085), unlike Java's {@code trim()} or {@code split("\\s+")}. The official evaluation scripts use them,
 * so answers and captions must be cut the same way.
 */
final class PythonText {
    private PythonText() {}

    static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85 || c >= 0x1c && c <= 0x1f;
    }

    static List<String> split(String s) {
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

    static String strip(String s) {
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
}
