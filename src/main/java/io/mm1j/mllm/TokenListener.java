package io.mm1j.mllm;

/**
 * Receives a generation as it happens. Called on the generating thread, once per generated token, with the text that
 * became safe to show: complete UTF-8 characters only, and never a piece of text that may still turn out to start
 * a stop string (that text is held back and comes with a later call, or is dropped when it does end in a stop
 * string). When the generation ends, a last call with {@link #END} as id delivers text still held back, if any.
 */
@FunctionalInterface
public interface TokenListener {
    /** The id of the final call that flushes held-back text. */
    int END = -1;

    /** Ignores everything. */
    TokenListener NONE = (id, text) -> true;

    /**
     * @param id        the generated token, or {@link #END}
     * @param textDelta text to append to what was shown so far (may be empty)
     * @return false to stop generating now (a client went away, a caller's own stop rule): the result's finish
     *         reason is then "cancelled"
     */
    boolean onToken(int id, String textDelta);
}
