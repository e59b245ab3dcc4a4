package io.mm1j.serve;

import java.util.List;

/**
 * The model behind {@link OpenAiServer}: turns validated requests into text. The server calls {@link #generate} from
 * its single worker thread, one request at a time; {@link #countPromptTokens} may be called from any request thread.
 */
public interface ChatBackend extends AutoCloseable {
    /** The id clients name in {@code model} and {@code GET /v1/models} lists. */
    String modelId();

    /** Positions the model can attend to (prompt + completion). */
    int contextLength();

    /** Whether the model takes images. */
    boolean acceptsImages();

    /** A request to generate from: a chat conversation, or (legacy completions) raw text. */
    sealed interface Input permits ChatInput, TextInput {}

    /** A conversation rendered with the model's chat template, ending with the assistant's generation prompt. */
    record ChatInput(List<ChatTurn> turns) implements Input {}

    /** Raw text after BOS ({@code POST /v1/completions}). */
    record TextInput(String text) implements Input {}

    /**
     * Prompt length in tokens (image tokens included) without running the model; cheap, so the server can refuse
     * a too-long prompt with a 400 before queueing it.
     */
    int countPromptTokens(Input prompt);

    /** Receives text as it is generated; returns false to stop (client gone, timeout). */
    @FunctionalInterface
    interface DeltaListener {
        boolean onDelta(String textDelta);
    }

    /**
     * Generates an answer, streaming text deltas whose concatenation is the returned text.
     *
     * @param maxTokens already resolved by the server (within the context)
     */
    Completion generate(Input prompt, Sampling sampling, int maxTokens, DeltaListener listener);

    /** Image-encoding cache counters for {@code /metrics}: hits, misses, entries ({@code null} when none). */
    default long[] imageCacheStats() {
        return null;
    }

    @Override
    default void close() {}
}
