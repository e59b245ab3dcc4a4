package io.mm1j.serve;

import java.util.List;

/**
 * Validated sampling fields of a request.
 *
 * @param maxTokens         tokens to generate at most; {@code null} = the server's default (capped by the context)
 * @param temperature       0 = greedy; OpenAI's default is 1
 * @param topP              nucleus mass in (0, 1]
 * @param topK              0 = off (an extension, as vLLM's {@code top_k})
 * @param minP              0 = off (extension)
 * @param repetitionPenalty 1 = off (extension)
 * @param seed              sampling seed; {@code null} = a fresh one per request
 * @param stop              up to 4 strings that end the answer (not included in it)
 */
public record Sampling(Integer maxTokens, double temperature, double topP, int topK, double minP,
                       double repetitionPenalty, Long seed, List<String> stop) {
    public Sampling {
        stop = List.copyOf(stop);
    }
}
