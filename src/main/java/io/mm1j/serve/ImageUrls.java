package io.mm1j.serve;

import io.mm1j.Mm1Exception;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.ImageTooLargeException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Base64;
import java.util.Locale;

/**
 * Turns an OpenAI {@code image_url.url} into a decoded image: {@code data:image/…;base64,…} URLs always (RFC 2397),
 * {@code http(s)://} URLs only when the operator allowed remote images — otherwise anyone who can reach the port could
 * make the server fetch internal addresses (SSRF). The header's pixel count is checked before decoding
 * ({@link ImageIoLoader}).
 */
public final class ImageUrls {
    private final ImageIoLoader loader;
    private final long maxBytes;
    private final boolean allowRemote;
    private final HttpClient http;
    private final java.time.Duration remoteTimeout;

    public ImageUrls(ServeLimits limits) {
        this.loader = new ImageIoLoader(limits.maxImagePixels(), ImageIoLoader.DEFAULT_MAX_ASPECT_RATIO,
                limits.maxBodyBytes());
        this.maxBytes = limits.maxBodyBytes();
        this.allowRemote = limits.allowRemoteImages();
        this.remoteTimeout = limits.remoteImageTimeout();
        this.http = allowRemote ? HttpClient.newBuilder().connectTimeout(remoteTimeout)
                .followRedirects(HttpClient.Redirect.NORMAL).build() : null;
    }

    /**
     * Decodes the image at {@code url}; {@code param} (e.g. {@code messages[1].content[0].image_url.url}) names the
     * field in errors.
     */
    public ChatTurn.Image load(String url, String param) {
        byte[] bytes = bytes(url, param);
        try {
            return new ChatTurn.Image(loader.decode(bytes, param));
        } catch (ImageTooLargeException e) {
            throw ApiException.tooLarge(param, "image_too_large", e.getMessage());
        } catch (Mm1Exception e) {
            throw ApiException.invalid(param, "invalid_image", e.getMessage());
        }
    }

    private byte[] bytes(String url, String param) {
        String lower = url.toLowerCase(Locale.ROOT);
        if (lower.startsWith("data:")) {
            return dataUrl(url, param);
        }
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            if (!allowRemote) {
                throw ApiException.invalid(param, "remote_images_disabled", param + ": remote image URLs are "
                        + "disabled on this server (start it with --allow-remote-images); send the image inline as a "
                        + "data:image/png;base64,... URL");
            }
            return fetch(url, param);
        }
        throw ApiException.invalid(param, "invalid_image_url", param + ": expected a data:image/...;base64,... URL"
                + (allowRemote ? " or an http(s) URL" : "") + ", got '" + abbreviate(url) + "'");
    }

    /** RFC 2397 {@code data:[<mediatype>][;base64],<data>}; only base64-encoded images are accepted. */
    static byte[] dataUrl(String url, String param) {
        int comma = url.indexOf(',');
        if (comma < 0) {
            throw ApiException.invalid(param, "invalid_image_url", param + ": data URL has no ',' before its data");
        }
        String meta = url.substring(5, comma).toLowerCase(Locale.ROOT);
        if (!meta.endsWith(";base64")) {
            throw ApiException.invalid(param, "invalid_image_url", param + ": data URL must be base64-encoded "
                    + "(data:image/png;base64,...), got 'data:" + abbreviate(meta) + "'");
        }
        String type = meta.substring(0, meta.length() - ";base64".length());
        if (!type.isEmpty() && !type.startsWith("image/") && !type.equals("application/octet-stream")) {
            throw ApiException.invalid(param, "invalid_image_url", param + ": data URL media type must be image/*, "
                    + "got '" + abbreviate(type) + "'");
        }
        String data = url.substring(comma + 1);
        if (data.chars().anyMatch(Character::isWhitespace)) { // line breaks of wrapped base64 are allowed
            data = data.replaceAll("\\s+", "");
        }
        try { // strict: any other character outside the alphabet is an error, not skipped (the MIME decoder's way)
            return Base64.getDecoder().decode(data);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(param, "invalid_image_url", param + ": invalid base64 in data URL: "
                    + e.getMessage());
        }
    }

    private byte[] fetch(String url, String param) {
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(param, "invalid_image_url", param + ": malformed URL: " + e.getMessage());
        }
        try {
            HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(uri).timeout(remoteTimeout).GET().build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = r.body()) {
                if (r.statusCode() != 200) {
                    throw ApiException.invalid(param, "image_fetch_failed", param + ": GET " + abbreviate(url)
                            + " answered HTTP " + r.statusCode());
                }
                byte[] b = in.readNBytes((int) Math.min(maxBytes + 1, Integer.MAX_VALUE - 8));
                if (b.length > maxBytes) {
                    throw ApiException.tooLarge(param, "image_too_large", param + ": remote image is larger than "
                            + maxBytes + " bytes");
                }
                return b;
            }
        } catch (IOException e) {
            throw ApiException.invalid(param, "image_fetch_failed", param + ": cannot fetch " + abbreviate(url) + ": "
                    + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "server_error", param, "shutting_down", "interrupted while fetching " + param);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
