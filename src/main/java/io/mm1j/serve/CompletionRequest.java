package io.mm1j.serve;

/**
 * A validated {@code /v1/chat/completions} or {@code /v1/completions} request.
 *
 * @param model        the model id the client named
 * @param prompt       a conversation or raw text
 * @param sampling     sampling fields
 * @param stream       answer as server-sent events
 * @param includeUsage {@code stream_options.include_usage}: one last chunk with the token counts
 * @param chat         chat completions (true) or the legacy text completions (false)
 */
public record CompletionRequest(String model, ChatBackend.Input prompt, Sampling sampling, boolean stream,
                                boolean includeUsage, boolean chat) {}
