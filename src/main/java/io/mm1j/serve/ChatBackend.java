package io.mm1j.serve;

import java.util.List;

/**
 * The model behind {@link OpenAiServer}: turns validated requests into text. The server calls {@link #generate} from
 * its single worker thread, one request at a time, unless the backend {@linkplain #batches batches continuously}
 * (then {@link #submit} from request threads); {@link #countPromptTokens} may be called from any request thread.
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

    /**
     * A lower bound on {@link #countPromptTokens} without tokenising (from the text's length), so that a prompt far
     * beyond the context is refused without the cost of counting it; 0 when there is none.
     */
    default int minPromptTokens(Input prompt) {
        return 0;
    }

    /** Receives text as it is generated, a call per token; returns false to stop (client gone, timeout). */
    @FunctionalInterface
    interface DeltaListener {
        boolean onDelta(String textDelta);

        /**
         * Text held back until the generation ended (the rest of a multi-byte character, a prefix of a stop string
         * that did not complete): no token of its own, so a listener that counts tokens does not count it.
         */
        default boolean onTail(String textDelta) {
            return onDelta(textDelta);
        }
    }

    /**
     * Generates an answer, streaming text deltas whose concatenation is the returned text.
     *
     * @param maxTokens already resolved by the server (within the context)
     */
    Completion generate(Input prompt, Sampling sampling, int maxTokens, DeltaListener listener);

    /**
     * Whether this backend batches continuously: then the server hands it every request at once with {@link #submit}
     * (up to its batch size decode together, later ones wait in the backend) instead of calling {@link #generate}
     * one request at a time.
     */
    default boolean batches() {
        return false;
    }

    /** A generation running inside a batching backend; every callback comes from the backend's scheduler thread. */
    interface Stream extends DeltaListener {
        /** Polled before each decode step: true ends the generation ("cancelled") and frees its place. */
        boolean cancelled();

        /** The request left the backend's waiting queue and joins the batch. */
        void admitted();

        void done(Completion completion);

        void failed(RuntimeException error);
    }

    /**
     * Queues a generation in a batching backend ({@link #batches}); returns at once, the result comes through
     * {@code stream}. A prompt the backend cannot take is refused by throwing, before anything is queued.
     */
    default void submit(Input prompt, Sampling sampling, int maxTokens, Stream stream) {
        throw new IllegalStateException("submit() on a backend that does not batch (batches() is false): call generate()");
    }

    /** Drops a submitted generation that is still waiting; false when it already started (or is unknown). */
    default boolean withdraw(Stream stream) {
        return false;
    }

    /** Generations waiting in a batching backend for a place in the batch. */
    default int waiting() {
        return 0;
    }

    /** Generations decoded together at most (1 when the backend does not batch). */
    default int batchSize() {
        return 1;
    }

    /** Generations a batching backend decodes right now. */
    default int running() {
        return 0;
    }

    /** Image-encoding cache counters for {@code /metrics}: hits, misses, entries ({@code null} when none). */
    default long[] imageCacheStats() {
        return null;
    }

    @Override
    default void close() {}
}
