package io.mm1j.mllm;

import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Turns generated ids into text deltas: incremental detokenisation (each step decodes only a short window of recent
 * ids, as vLLM does, and waits while the window ends in an incomplete UTF-8 sequence, which byte-fallback and
 * byte-level tokenizers decode to U+FFFD) and stop strings matched across token boundaries (text that could be the
 * start of a stop string is held back until it is known not to be one). Not thread-safe: one per generation.
 */
final class TextStream {
    private final Function<long[], String> decode;
    private final List<String> stops;
    private long[] ids = new long[16];
    private int n;
    private int prefixOffset;
    private int readOffset;
    private final StringBuilder pending = new StringBuilder();
    private final StringBuilder emitted = new StringBuilder();
    private String matched;

    TextStream(Function<long[], String> decode, List<String> stopStrings) {
        this(decode, stopStrings, new long[0]);
    }

    /**
     * @param context ids the text follows (the prompt's last few): decoded with the first generated ids and not
     *                emitted, so the first delta is what those ids add after them (a SentencePiece word keeps its
     *                leading space)
     */
    TextStream(Function<long[], String> decode, List<String> stopStrings, long[] context) {
        this.decode = decode;
        this.stops = List.copyOf(stopStrings);
        if (context.length > 0 && decode.apply(context).endsWith("\uFFFD")) {
            context = new long[0]; // the context ends inside a character: no clean place to continue from
        }
        ids = Arrays.copyOf(context, Math.max(16, 2 * context.length));
        n = context.length;
        readOffset = n;
    }

    /**
     * The prompt's last ids (up to 4) that are text, for {@link #TextStream(Function, List, long[])}: none after an
     * image position (an image run is not text to decode).
     */
    static long[] context(Prompt prompt) {
        long[] p = prompt.ids();
        int from = p.length;
        while (from > 0 && p.length - from < 4 && p[from - 1] != prompt.imageTokenId()) {
            from--;
        }
        return Arrays.copyOfRange(p, from, p.length);
    }

    /** Adds a generated id; returns the text that can be shown now (possibly empty). */
    String push(long id) {
        if (matched != null) {
            return ""; // the text ended at a stop string
        }
        if (n == ids.length) {
            ids = Arrays.copyOf(ids, 2 * n);
        }
        ids[n++] = id;
        String prefix = decode.apply(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String full = decode.apply(Arrays.copyOfRange(ids, prefixOffset, n));
        if (full.length() <= prefix.length() || full.endsWith("\uFFFD")) {
            return ""; // nothing new yet, or an incomplete multi-byte character
        }
        pending.append(full, prefix.length(), full.length());
        prefixOffset = readOffset;
        readOffset = n;
        return release(false);
    }

    /** At the end of generation: everything still held back (stop strings still apply). */
    String finish() {
        if (matched != null) {
            return "";
        }
        String prefix = decode.apply(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String full = decode.apply(Arrays.copyOfRange(ids, prefixOffset, n));
        if (full.length() > prefix.length()) {
            pending.append(full, prefix.length(), full.length());
        }
        readOffset = n;
        prefixOffset = n;
        return release(true);
    }

    /** Emits pending text up to a stop string (then stops) or up to a possible stop-string prefix. */
    private String release(boolean all) {
        int cut = -1;
        for (String s : stops) {
            int at = pending.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
                matched = s;
            }
        }
        int upTo;
        if (cut >= 0) {
            upTo = cut;
        } else {
            upTo = all ? pending.length() : pending.length() - heldBack();
        }
        String out = pending.substring(0, upTo);
        emitted.append(out);
        pending.delete(0, cut >= 0 ? pending.length() : upTo);
        return out;
    }

    /** Length of the longest suffix of the pending text that is a proper prefix of some stop string. */
    private int heldBack() {
        int best = 0;
        String p = pending.toString();
        for (String s : stops) {
            for (int len = Math.min(s.length() - 1, p.length()); len > best; len--) {
                if (p.regionMatches(p.length() - len, s, 0, len)) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }

    /** The stop string that ended the text, or null. */
    String matchedStop() {
        return matched;
    }

    /** Everything emitted so far. */
    String text() {
        return emitted.toString();
    }
}
