package io.mm1j.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own error answers in OpenAI's error JSON instead of its HTML page. These are the requests Jetty refuses
 * while parsing them, before any route runs: a bad {@code Content-Length} ({@code abc}, negative, two of them), a
 * {@code Transfer-Encoding} other than chunked or next to a Content-Length, headers or a URI too long (RFC 9112
 * §6.3 has the server answer 400 and close). An API client then reads the same shape as every other error.
 */
final class JsonErrorHandler extends ErrorHandler {
    /** Every method gets the body (Jetty's default: only GET, POST and HEAD); a HEAD answer still carries none. */
    @Override
    public boolean errorPageForMethod(String method) {
        return true;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) {
        byte[] body;
        try {
            body = RequestParser.JSON.writeValueAsBytes(OpenAiJson.error(message(code, message), code >= 500
                    ? "server_error" : "invalid_request_error", null, code(code)));
        } catch (JsonProcessingException e) {
            callback.failed(e);
            return;
        }
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    /** Jetty's reason ("Invalid Content-Length Value"), said to be about the HTTP framing, not the JSON body. */
    static String message(int code, String reason) {
        String why = reason == null || reason.isBlank() ? org.eclipse.jetty.http.HttpStatus.getMessage(code) : reason;
        return (code == 400 ? "malformed HTTP request: " : "HTTP request refused: ") + why;
    }

    static String code(int status) {
        return switch (status) {
            case 414 -> "uri_too_long";
            case 431 -> "headers_too_large";
            case 505 -> "http_version_not_supported";
            default -> "malformed_http_request";
        };
    }
}
