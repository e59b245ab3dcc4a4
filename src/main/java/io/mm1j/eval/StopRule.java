package io.mm1j.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.IntUnaryOperator;

/**
 * When greedy decoding of an answer ends: at a stop id (EOS, BOS — which starts a new document in llama2.c-style
 * training — and {@code <image>}, which would start the next demonstration), at the first newline in the decoded
 * text (every demonstration ends with one, so a newline means the model has finished its answer and begins a new
 * one), or at the length cap. The newline is checked on decoded text rather than on a token id because byte-level
 * BPE merges it into tokens such as ".\n"; the answer is the text before it.
 *
 * @param stopIds    ids that end the answer and are not part of it
 * @param newline    end at the first '\n'
 * @param maxTokens  length cap (captions ~30, VQA ~10)
 */
public record StopRule(Set<Integer> stopIds, boolean newline, int maxTokens) {
    public StopRule {
        stopIds = Set.copyOf(new TreeSet<>(stopIds));
    }

    /** Why decoding ended (recorded per sample). */
    public enum Reason { STOP_TOKEN, NEWLINE, LENGTH }

    /** The generated ids (stop id excluded), the answer text and why it ended. */
    public record Output(long[] ids, String text, Reason reason) {}

    /**
     * Runs the decoding loop.
     *
     * @param step   given the previous token (-1 before the first), returns the next token (the model)
     * @param decode token ids → text
     */
    public Output run(IntUnaryOperator step, Function<long[], String> decode) {
        List<Long> ids = new ArrayList<>();
        int prev = -1;
        Reason reason = Reason.LENGTH;
        String text = "";
        while (ids.size() < maxTokens) {
            int next = step.applyAsInt(prev);
            if (stopIds.contains(next)) {
                reason = Reason.STOP_TOKEN;
                break;
            }
            ids.add((long) next);
            text = decode.apply(toArray(ids));
            if (newline && text.indexOf('\n') >= 0) {
                reason = Reason.NEWLINE;
                break;
            }
            prev = next;
        }
        return new Output(toArray(ids), answer(text, newline), reason);
    }

    /** The answer in generated text: up to the first newline (when the rule stops there), trimmed. */
    static String answer(String text, boolean newline) {
        int nl = newline ? text.indexOf('\n') : -1;
        return (nl >= 0 ? text.substring(0, nl) : text).strip();
    }

    private static long[] toArray(List<Long> ids) {
        return ids.stream().mapToLong(Long::longValue).toArray();
    }
}
