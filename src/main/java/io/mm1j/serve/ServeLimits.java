package io.mm1j.serve;

import io.mm1j.Mm1Exception;
import java.time.Duration;

/**
 * What one server accepts: every limit a hostile or careless client could otherwise push into memory, CPU or time.
 *
 * @param maxBodyBytes      largest request body (base64 images inflate by 4/3, so 16 MiB carries ~12 MB of images)
 * @param maxImages         images per request, over all messages of the conversation
 * @param maxImagePixels    width × height an image header may claim; checked before decoding (decompression bombs)
 * @param maxPromptTokens   prompt tokens accepted (images included); also bounded by the model's context
 * @param maxTokens         completion tokens a request may ask for, and the default when it asks for none
 * @param queueSize         requests that may wait for the worker; beyond it a 429 (the client should retry)
 * @param requestTimeout    from arrival to the last token; past it a queued request gets a 503 and a running one
 *                          is stopped
 * @param imageCacheEntries encoded images kept for later turns of a conversation (0 = no cache)
 * @param allowRemoteImages whether {@code http(s)://} image URLs are fetched (off: no SSRF from a public port)
 * @param remoteImageTimeout connect + read time allowed for one remote image
 */
public record ServeLimits(long maxBodyBytes, int maxImages, long maxImagePixels, int maxPromptTokens, int maxTokens,
                          int queueSize, Duration requestTimeout, int imageCacheEntries, boolean allowRemoteImages,
                          Duration remoteImageTimeout) {
    /** 16 MiB: OpenAI's own per-image limit is 20 MB, but this server runs on a CPU and one image fills a prompt. */
    public static final long DEFAULT_MAX_BODY_BYTES = 16L << 20;
    public static final int DEFAULT_MAX_IMAGES = 8;
    /** 4096 × 4096: an image is resized to the encoder's few hundred pixels, so more only costs decode memory. */
    public static final long DEFAULT_MAX_IMAGE_PIXELS = 4096L * 4096L;
    public static final int DEFAULT_MAX_TOKENS = 512;
    public static final int DEFAULT_QUEUE_SIZE = 32;
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(300);
    public static final int DEFAULT_IMAGE_CACHE_ENTRIES = 64;
    /** Requests decoded together by continuous batching ({@code mm1 serve --max-batch}). */
    public static final int DEFAULT_MAX_BATCH = 16;

    public ServeLimits {
        if (maxBodyBytes < 1024 || maxBodyBytes > Integer.MAX_VALUE - 8) {
            throw new Mm1Exception("--max-body-bytes must be within [1024, 2 GB), got " + maxBodyBytes);
        }
        if (maxImages < 0) {
            throw new Mm1Exception("--max-images must be >= 0, got " + maxImages);
        }
        if (maxImagePixels < 1) {
            throw new Mm1Exception("--max-image-pixels must be positive, got " + maxImagePixels);
        }
        if (maxPromptTokens < 1) {
            throw new Mm1Exception("--max-prompt-tokens must be positive, got " + maxPromptTokens);
        }
        if (maxTokens < 1) {
            throw new Mm1Exception("--max-tokens must be positive, got " + maxTokens);
        }
        if (queueSize < 1) {
            throw new Mm1Exception("--queue-size must be positive, got " + queueSize);
        }
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new Mm1Exception("--request-timeout must be positive, got " + java.math.BigDecimal.valueOf(
                    requestTimeout.toMillis(), 3).stripTrailingZeros().toPlainString());
        }
        if (imageCacheEntries < 0) {
            throw new Mm1Exception("--image-cache must be >= 0, got " + imageCacheEntries);
        }
    }

    /** The defaults above, with prompt tokens bounded only by the model's context. */
    public static ServeLimits defaults() {
        return new ServeLimits(DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IMAGES, DEFAULT_MAX_IMAGE_PIXELS, Integer.MAX_VALUE,
                DEFAULT_MAX_TOKENS, DEFAULT_QUEUE_SIZE, DEFAULT_REQUEST_TIMEOUT, DEFAULT_IMAGE_CACHE_ENTRIES, false,
                Duration.ofSeconds(10));
    }

    public ServeLimits withQueueSize(int size) {
        return new ServeLimits(maxBodyBytes, maxImages, maxImagePixels, maxPromptTokens, maxTokens, size,
                requestTimeout, imageCacheEntries, allowRemoteImages, remoteImageTimeout);
    }

    public ServeLimits withMaxTokens(int tokens) {
        return new ServeLimits(maxBodyBytes, maxImages, maxImagePixels, maxPromptTokens, tokens, queueSize,
                requestTimeout, imageCacheEntries, allowRemoteImages, remoteImageTimeout);
    }

    public ServeLimits withRequestTimeout(Duration timeout) {
        return new ServeLimits(maxBodyBytes, maxImages, maxImagePixels, maxPromptTokens, maxTokens, queueSize,
                timeout, imageCacheEntries, allowRemoteImages, remoteImageTimeout);
    }
}
