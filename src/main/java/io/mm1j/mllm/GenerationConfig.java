package io.mm1j.mllm;

import io.mm1j.Mm1Exception;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * How to pick tokens and when to stop. Sampling follows Hugging Face's order: repetition penalty on the raw logits,
 * then temperature, top-k, top-p, min-p; temperature 0 is greedy (argmax after the penalty).
 *
 * @param maxTokens         tokens to generate at most (≥ 0)
 * @param temperature       softmax temperature; 0 = greedy
 * @param topK              keep the k most likely tokens (0 = off)
 * @param topP              keep the smallest set whose probability reaches p (1 = off)
 * @param minP              drop tokens less likely than minP × the most likely one (0 = off)
 * @param repetitionPenalty CTRL's penalty on every token already in the prompt or the output: a positive logit is
 *                          divided by it, a negative one multiplied (1 = off)
 * @param seed              sampling seed (a generation is reproducible from it)
 * @param stopStrings       generation ends before the first of these in the decoded text (never emitted, even in
 *                          part); strings that are special tokens of the tokenizer are matched by id
 * @param stopIds           ids that end generation (not emitted); the model's EOS ids are always added
 * @param continuesPrompt   the text continues the prompt (a text completion, not a chat turn): the first ids are
 *                          decoded after the prompt's last ids, so a word's leading space that a SentencePiece
 *                          tokenizer drops at the start of a text stays (" big" after "Tom had a", as vLLM returns)
 */
public record GenerationConfig(int maxTokens, double temperature, int topK, double topP, double minP,
        double repetitionPenalty, long seed, List<String> stopStrings, Set<Integer> stopIds,
        boolean continuesPrompt) {
    public GenerationConfig {
        if (maxTokens < 0) {
            throw new Mm1Exception("max tokens must be >= 0, got " + maxTokens);
        }
        if (!Double.isFinite(temperature) || temperature < 0) {
            throw new Mm1Exception("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < 0) {
            throw new Mm1Exception("top-k must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new Mm1Exception("top-p must be within (0, 1], got " + topP);
        }
        if (!(minP >= 0 && minP < 1)) {
            throw new Mm1Exception("min-p must be within [0, 1), got " + minP);
        }
        if (!Double.isFinite(repetitionPenalty) || repetitionPenalty <= 0) {
            throw new Mm1Exception("repetition penalty must be a finite number > 0 (1 = off), got "
                    + repetitionPenalty);
        }
        stopStrings = List.copyOf(stopStrings);
        for (String s : stopStrings) {
            if (s.isEmpty()) {
                throw new Mm1Exception("stop strings must not be empty");
            }
        }
        for (int id : stopIds) {
            if (id < 0) {
                throw new Mm1Exception("stop ids must be >= 0, got " + id);
            }
        }
        stopIds = Set.copyOf(new TreeSet<>(stopIds));
    }

    /** Greedy decoding of at most {@code maxTokens} tokens, stopping at the model's EOS. */
    public static GenerationConfig greedy(int maxTokens) {
        return builder().maxTokens(maxTokens).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these values. */
    public Builder toBuilder() {
        return new Builder().maxTokens(maxTokens).temperature(temperature).topK(topK).topP(topP).minP(minP)
                .repetitionPenalty(repetitionPenalty).seed(seed).stopStrings(stopStrings).stopIds(stopIds)
                .continuesPrompt(continuesPrompt);
    }

    /** True when the next token is the argmax. */
    public boolean isGreedy() {
        return temperature == 0;
    }

    /** Defaults: 128 tokens, greedy, no top-k/top-p/min-p, no penalty, seed 42, no extra stops. */
    public static final class Builder {
        private int maxTokens = 128;
        private double temperature = 0;
        private int topK = 0;
        private double topP = 1;
        private double minP = 0;
        private double repetitionPenalty = 1;
        private long seed = 42;
        private List<String> stopStrings = List.of();
        private Set<Integer> stopIds = Set.of();
        private boolean continuesPrompt;

        public Builder maxTokens(int v) {
            maxTokens = v;
            return this;
        }

        public Builder temperature(double v) {
            temperature = v;
            return this;
        }

        public Builder topK(int v) {
            topK = v;
            return this;
        }

        public Builder topP(double v) {
            topP = v;
            return this;
        }

        public Builder minP(double v) {
            minP = v;
            return this;
        }

        public Builder repetitionPenalty(double v) {
            repetitionPenalty = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder stopStrings(List<String> v) {
            stopStrings = List.copyOf(v);
            return this;
        }

        public Builder stopIds(Set<Integer> v) {
            stopIds = Set.copyOf(v);
            return this;
        }

        public Builder continuesPrompt(boolean v) {
            continuesPrompt = v;
            return this;
        }

        /** Adds the template's end-of-turn stops (strings and ids). */
        public Builder stopsOf(ChatTemplate t) {
            List<String> s = new java.util.ArrayList<>(stopStrings);
            t.stopStrings().stream().filter(x -> !s.contains(x)).forEach(s::add);
            Set<Integer> ids = new java.util.HashSet<>(stopIds);
            ids.addAll(t.stopIds());
            stopStrings = List.copyOf(s);
            stopIds = Set.copyOf(ids);
            return this;
        }

        public GenerationConfig build() {
            return new GenerationConfig(maxTokens, temperature, topK, topP, minP, repetitionPenalty, seed,
                    stopStrings, stopIds, continuesPrompt);
        }
    }
}
