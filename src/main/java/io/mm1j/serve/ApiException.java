package io.mm1j.serve;

import io.mm1j.Mm1Exception;

/**
 * An error the client caused or must handle, sent as OpenAI's error JSON
 * ({@code {"error":{"message","type","param","code"}}}) with an HTTP status. Anything else that escapes a handler is
 * a server fault (500); client mistakes must always become one of these.
 */
public final class ApiException extends Mm1Exception {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: a field is missing, has the wrong type or an out-of-range value ({@code param} names it). */
    public static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, "invalid_value", message);
    }

    /** 400 with a specific OpenAI code (e.g. {@code context_length_exceeded}). */
    public static ApiException invalid(String param, String code, String message) {
        return new ApiException(400, "invalid_request_error", param, code, message);
    }

    /** 413: the body or an image is larger than the server accepts. */
    public static ApiException tooLarge(String param, String code, String message) {
        return new ApiException(413, "invalid_request_error", param, code, message);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }
}
