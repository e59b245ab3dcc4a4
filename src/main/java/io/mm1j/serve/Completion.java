package io.mm1j.serve;

/**
 * What one generation produced.
 *
 * @param text             the answer (stop strings removed)
 * @param promptTokens     prompt length in tokens, image tokens included
 * @param imageTokens      how many of {@code promptTokens} are image tokens
 * @param completionTokens tokens generated
 * @param finishReason     {@code stop}, {@code length} or {@code cancelled} (the listener asked to stop)
 */
public record Completion(String text, int promptTokens, int imageTokens, int completionTokens, String finishReason) {}
