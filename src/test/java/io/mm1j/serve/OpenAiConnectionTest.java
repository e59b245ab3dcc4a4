package io.mm1j.serve;

import static io.mm1j.serve.OpenAiErrorsTest.waitUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * HTTP/1.1 connection behaviour on raw sockets, against a scripted backend whose generations can be held: keep-alive
 * and pipelining after an answer, a stream's headers before its first token, a client that leaves during the prefill,
 * and a client that half-closes its connection after sending its request.
 */
class OpenAiConnectionTest {
    private static final String COMPLETION = "{\"model\":\"scripted\",\"prompt\":\"hi\",\"max_tokens\":3}";
    private static final String CHAT = "{\"model\":\"scripted\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
            + "\"max_tokens\":2}";

    static byte[] post(String path, String body) {
        return ("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8);
    }

    /** One response read off a socket: the status line and headers as sent, and the body (de-chunked). */
    record Response(String head, String body) {
        int status() {
            return Integer.parseInt(head.substring(9, 12));
        }

        /** A header's value (first of that name), or null. */
        String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }

        JsonNode json() throws IOException {
            return HttpTestClient.JSON.readTree(body);
        }
    }

    /** The status line and headers, up to and including the blank line. */
    static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            assertTrue(b >= 0, "connection closed after: " + head.toString(StandardCharsets.ISO_8859_1));
            head.write(b);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    static Response readResponse(InputStream in) throws IOException {
        return readBody(readHead(in), in);
    }

    /** The body that follows {@code head}: Content-Length bytes, or chunks up to the last one. */
    static Response readBody(String head, InputStream in) throws IOException {
        Response r = new Response(head, "");
        if (r.header("Content-Length") != null) {
            byte[] body = in.readNBytes(Integer.parseInt(r.header("Content-Length")));
            return new Response(head, new String(body, StandardCharsets.UTF_8));
        }
        assertEquals("chunked", r.header("Transfer-Encoding"), head);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String size = line(in);
            int n = Integer.parseInt(size, 16);
            body.write(in.readNBytes(n));
            assertEquals("", line(in), "CRLF after a chunk");
            if (n == 0) {
                return new Response(head, body.toString(StandardCharsets.UTF_8));
            }
        }
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int b;
        while ((b = in.read()) != '\n') {
            assertTrue(b >= 0, "connection closed in a chunked body");
            sb.append((char) b);
        }
        assertTrue(sb.length() > 0 && sb.charAt(sb.length() - 1) == '\r', sb.toString());
        return sb.substring(0, sb.length() - 1);
    }

    private static Socket connect(OpenAiServer s) throws IOException {
        Socket so = new Socket("127.0.0.1", s.port());
        so.setSoTimeout(30_000);
        return so;
    }

    private static void assertKeptOpen(Response r) {
        assertEquals(200, r.status(), r.head() + r.body());
        String connection = r.header("Connection");
        assertTrue(connection == null || !connection.toLowerCase(Locale.ROOT).contains("close"), r.head());
    }

    @Test
    void twoRequestsOnOneConnectionAreBothAnswered() throws Exception {
        try (OpenAiServer s = new OpenAiServer(new ScriptedBackend(), ServeLimits.defaults(), null)
                .start("127.0.0.1", 0); Socket so = connect(s)) {
            OutputStream out = so.getOutputStream();
            InputStream in = so.getInputStream();
            out.write(post("/v1/completions", COMPLETION));
            Response first = readResponse(in);
            assertKeptOpen(first);
            assertEquals("w0 w1 w2", first.json().get("choices").get(0).get("text").asText());
            out.write(post("/v1/chat/completions", CHAT));
            Response second = readResponse(in);
            assertKeptOpen(second);
            assertEquals("w0 w1", second.json().get("choices").get(0).get("message").get("content").asText());
        }
    }

    /** Both requests in one write: the second is buffered by the connection before the first is answered. */
    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        try (OpenAiServer s = new OpenAiServer(new ScriptedBackend(), ServeLimits.defaults(), null)
                .start("127.0.0.1", 0); Socket so = connect(s)) {
            ByteArrayOutputStream both = new ByteArrayOutputStream();
            both.write(post("/v1/chat/completions", CHAT));
            both.write(post("/v1/completions", COMPLETION));
            so.getOutputStream().write(both.toByteArray());
            Response first = readResponse(so.getInputStream());
            assertKeptOpen(first);
            assertEquals("chat.completion", first.json().get("object").asText());
            Response second = readResponse(so.getInputStream());
            assertKeptOpen(second);
            assertEquals("text_completion", second.json().get("object").asText());
        }
    }

    /**
     * The next request arrives while the first generates: the disconnect watch reads its first byte, and the
     * connection gets that byte back, so the request is served intact after the first answer.
     */
    @Test
    void aRequestSentDuringAGenerationIsAnsweredAfterIt() throws Exception {
        ScriptedBackend b = new ScriptedBackend();
        b.hold();
        try (OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0);
             Socket so = connect(s)) {
            OutputStream out = so.getOutputStream();
            out.write(post("/v1/completions", COMPLETION));
            waitUntil(() -> b.started.get() == 1);
            out.write(post("/v1/chat/completions", CHAT));
            out.flush();
            b.release();
            Response first = readResponse(so.getInputStream());
            assertKeptOpen(first);
            assertEquals("w0 w1 w2", first.json().get("choices").get(0).get("text").asText());
            Response second = readResponse(so.getInputStream());
            assertKeptOpen(second);
            assertEquals("w0 w1", second.json().get("choices").get(0).get("message").get("content").asText());
            assertEquals(0, b.cancelled.get());
        }
    }

    /**
     * Framing Jetty refuses while parsing, before any route runs (a Content-Length that is not a number, a
     * Transfer-Encoding other than chunked, both headers at once), and a chunk size that is not hexadecimal: each is
     * the server's JSON error, not Jetty's HTML page.
     */
    @Test
    void malformedHttpFramingGetsTheJsonErrorBody() throws Exception {
        String headers = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
        java.util.Map<String, String> refusals = new java.util.LinkedHashMap<>();
        refusals.put("Content-Length: abc\r\n\r\n" + CHAT, "malformed HTTP request: Invalid Content-Length Value");
        refusals.put("Transfer-Encoding: gzip\r\n\r\n" + CHAT,
                "malformed HTTP request: Bad Transfer-Encoding, chunked not last");
        refusals.put("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                "malformed HTTP request: Transfer-Encoding and Content-Length");
        refusals.put("Transfer-Encoding: chunked\r\n\r\nzz\r\n" + CHAT + "\r\n0\r\n\r\n",
                "the chunked request body ended early (the connection was closed part way) or its chunk framing is "
                        + "malformed");
        try (OpenAiServer s = new OpenAiServer(new ScriptedBackend(), ServeLimits.defaults(), null)
                .start("127.0.0.1", 0)) {
            for (var refusal : refusals.entrySet()) {
                try (Socket so = connect(s)) {
                    so.getOutputStream().write((headers + refusal.getKey()).getBytes(StandardCharsets.US_ASCII));
                    Response r = readResponse(so.getInputStream());
                    String code = refusal.getKey().startsWith("Transfer-Encoding: chunked\r\n\r\n")
                            ? "incomplete_body" : "malformed_http_request";
                    assertEquals(refusal.getValue(), OpenAiErrorsTest.error(new HttpTestClient.Reply(r.status(),
                            r.header("Content-Type"), r.body()), 400, code, null), refusal.getKey());
                }
            }
        }
    }

    @Test
    void aStreamSendsItsHeadersBeforeTheFirstToken() throws Exception {
        ScriptedBackend b = new ScriptedBackend();
        b.hold(); // no token is generated until released
        try (OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0);
             Socket so = connect(s)) {
            so.getOutputStream().write(post("/v1/completions", COMPLETION.replace("}", ",\"stream\":true}")));
            String head = readHead(so.getInputStream());
            Response r = new Response(head, "");
            assertEquals(200, r.status(), head);
            assertEquals("text/event-stream;charset=utf-8", r.header("Content-Type").replace(" ", ""));
            assertEquals(0, b.tokensProduced.get(), "the headers came before any token");
            b.release();
        }
    }

    /**
     * A client that closes its connection while its stream waits for the first token (the prefill) stops the
     * generation; nothing was written to it, so only the read-side watch can notice.
     */
    @Test
    void aClientThatLeavesDuringThePrefillStopsItsStream() throws Exception {
        ScriptedBackend b = new ScriptedBackend();
        b.hold();
        try (OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0)) {
            try (Socket so = connect(s)) {
                so.getOutputStream().write(post("/v1/completions", COMPLETION.replace("}", ",\"stream\":true}")));
                assertEquals(200, new Response(readHead(so.getInputStream()), "").status());
                waitUntil(() -> b.started.get() == 1);
            } // closed with nothing unread: the server sees end-of-stream, not a reset
            waitUntil(() -> s.active() == 0); // the request noticed, with no token generated yet
            assertEquals(0, b.tokensProduced.get());
            b.release();
            waitUntil(() -> b.cancelled.get() == 1);
            assertEquals(1, b.tokensProduced.get(), "the generation stopped at its first token");
            waitUntil(() -> s.metrics().render().contains("status=\"499\""));
        }
    }

    /**
     * A client that half-closes after its request (HTTP/1.1 allows it; {@code nc -N} does it) still reads, and gets
     * its whole answer: the 200 and headers go out at once (the first probe), then spaces, then the JSON.
     */
    @Test
    void aClientThatHalfClosesGetsItsAnswer() throws Exception {
        ScriptedBackend b = new ScriptedBackend();
        b.hold();
        try (OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0);
             Socket so = connect(s)) {
            so.getOutputStream().write(post("/v1/completions", COMPLETION));
            so.shutdownOutput();
            InputStream in = so.getInputStream();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
            assertEquals("application/json", new Response(head, "").header("Content-Type"));
            assertEquals(0, b.tokensProduced.get(), "committed by the probe, before the answer");
            b.release();
            Response r = readBody(head, in);
            assertTrue(r.body().startsWith(" "), r.body());
            JsonNode choice = r.json().get("choices").get(0);
            assertEquals("w0 w1 w2", choice.get("text").asText());
            assertEquals("length", choice.get("finish_reason").asText());
            assertEquals(-1, in.read(), "the server closes after answering: the client sends nothing more");
            assertEquals(0, b.cancelled.get());
        }
    }

    @Test
    void aHalfClosedStreamGetsEveryEvent() throws Exception {
        ScriptedBackend b = new ScriptedBackend();
        b.hold();
        try (OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0);
             Socket so = connect(s)) {
            so.getOutputStream().write(post("/v1/chat/completions", CHAT.replace("}],", "}],\"stream\":true,")));
            so.shutdownOutput();
            InputStream in = so.getInputStream();
            String head = readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
            b.release();
            Response r = readBody(head, in);
            List<String> data = new ArrayList<>();
            for (String event : r.body().split("\n\n")) {
                assertTrue(event.startsWith("data: ") || event.equals(":"), "an event or a probe: " + event);
                if (event.startsWith("data: ")) {
                    data.add(event.substring(6));
                }
            }
            assertEquals(5, data.size(), r.body()); // role, w0, " w1", finish, [DONE]
            assertEquals("[DONE]", data.get(4));
            assertEquals("length", HttpTestClient.JSON.readTree(data.get(3)).get("choices").get(0)
                    .get("finish_reason").asText());
            assertFalse(r.body().contains("error"), r.body());
            assertEquals(0, b.cancelled.get());
        }
    }
}
