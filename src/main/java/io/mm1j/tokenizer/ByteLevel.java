package io.mm1j.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The two halves of GPT-2's byte-level scheme, as Hugging Face's {@code ByteLevel} pre-tokenizer applies them:
 * <ol>
 *   <li>split text into "words" with GPT-2's regex (contractions, letter runs, digit runs, other-symbol runs, each
 *       optionally led by one space; whitespace runs), so merges never cross a word boundary;</li>
 *   <li>map every UTF-8 byte to a printable code point ({@code bytes_to_unicode}: printable Latin-1 bytes map to
 *       themselves, the other 68 bytes to U+0100 onwards, e.g. space → 'Ġ'), so any byte string is a vocab string
 *       and no text is ever out of vocabulary.</li>
 * </ol>
 * The trainer only needs the split to be close to HF's (it decides which merges are learnt); encoding is always
 * done by HF's own implementation, so a small difference in Unicode classes costs compression, never correctness.
 */
public final class ByteLevel {
    /** GPT-2's pre-tokenization pattern ({@code \s} made Unicode-aware as in the Rust/Oniguruma original). */
    static final Pattern SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = new char[256];

    static {
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_TO_CHAR[b] = (char) (printable ? b : next++);
        }
    }

    private ByteLevel() {}

    /** The printable stand-in of one byte (0..255). */
    public static char charOf(int unsignedByte) {
        return BYTE_TO_CHAR[unsignedByte];
    }

    /** GPT-2 pre-tokens of {@code text}, in order; their concatenation is {@code text}. */
    public static List<String> split(CharSequence text) {
        List<String> out = new ArrayList<>();
        Matcher m = SPLIT.matcher(text);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }
}
