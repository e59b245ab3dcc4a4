package io.mm1j.eval;

import io.mm1j.mllm.GenerationConfig;
import io.mm1j.mllm.Generator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

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

    /** The rule as a generation config: greedy, {@code maxTokens}, the stop ids, and "\n" as a stop string. */
    public GenerationConfig config() {
        return GenerationConfig.builder().maxTokens(maxTokens).stopIds(stopIds)
                .stopStrings(newline ? List.of("\n") : List.of()).build();
    }

    /** What a generation under {@link #config()} gives: its ids, the answer and why it ended. */
    public Output outcome(Generator.Result r) {
        Reason reason = r.stopId() >= 0 ? Reason.STOP_TOKEN : r.stopString() != null ? Reason.NEWLINE : Reason.LENGTH;
        return new Output(r.ids(), answer(r.text(), newline), reason);
    }

    /** The answer in generated text: up to the first newline (when the rule stops there), trimmed. */
    static String answer(String text, boolean newline) {
        int nl = newline ? text.indexOf('\n') : -1;
        return (nl >= 0 ? text.substring(0, nl) : text).strip();
    }

}
