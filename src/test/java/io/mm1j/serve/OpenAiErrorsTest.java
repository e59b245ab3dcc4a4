package io.mm1j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every class of bad input gets OpenAI's error JSON with its status (never a 500), and the server's own limits
 * (queue, timeout, disconnects) behave as documented.
 */
class OpenAiErrorsTest {
    private static OpenAiServer server;
    private static HttpTestClient client;

    @BeforeAll
    static void start() {
        ServeLimits limits = new ServeLimits(64 * 1024, 2, 64 * 64, 240, 50, 4, Duration.ofSeconds(60), 8, false,
                Duration.ofSeconds(5));
        server = new OpenAiServer(new ScriptedBackend(), limits, null).start("127.0.0.1", 0);
        client = new HttpTestClient(server.port(), null);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** Asserts status, OpenAI's error shape, the code and (if not null) the param; returns the message. */
    static String error(HttpTestClient.Reply r, int status, String code, String param) {
        assertEquals(status, r.status(), r.body());
        assertTrue(r.contentType().startsWith("application/json"), r.contentType());
        JsonNode e = r.json().get("error");
        assertTrue(e != null && e.has("message") && e.has("type") && e.has("param") && e.has("code"), r.body());
        assertEquals(code, e.get("code").asText(), r.body());
        if (param != null) {
            assertEquals(param, e.get("param").asText(), r.body());
        }
        return e.get("message").asText();
    }

    static String chat(String messages, String extra) {
        return "{\"model\":\"scripted\",\"messages\":" + messages + extra + "}";
    }

    static String user(String content) {
        return "[{\"role\":\"user\",\"content\":" + content + "}]";
    }

    static String image(String url) {
        return "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\"}}";
    }

    @Test
    void malformedJsonIs400() {
        String msg = error(client.post("/v1/chat/completions", "{\"model\": \"scripted\", \"messages\": ["),
                400, "invalid_json", null);
        assertTrue(msg.startsWith("malformed JSON in the request body"), msg);
        error(client.post("/v1/chat/completions", "[1,2]"), 400, "invalid_json", null);
        error(client.post("/v1/chat/completions", ""), 400, "invalid_json", null);
        // beyond Jackson's read limits (nesting depth, number length): still a 400, not a 500
        String deep = "[".repeat(2000) + "]".repeat(2000);
        String nested = error(client.post("/v1/chat/completions", "{\"model\": \"scripted\", \"x\": " + deep + "}"),
                400, "invalid_json", null);
        assertTrue(nested.startsWith("malformed JSON in the request body: Document nesting depth"), nested);
        String digits = error(client.post("/v1/completions", "{\"model\": \"scripted\", \"prompt\": \"hi\", "
                + "\"max_tokens\": 1" + "0".repeat(1500) + "}"), 400, "invalid_json", null);
        assertTrue(digits.startsWith("malformed JSON in the request body: Number value length"), digits);
    }

    /** A key sent twice is refused, not "last wins": the server would otherwise act on a value the client overrode. */
    @Test
    void aKeySentTwiceIs400NamingIt() {
        String hi = user("\"hi\"");
        assertEquals("the request body has the key 'max_tokens' more than once (line 1, column 92); send each key "
                + "once", error(client.post("/v1/chat/completions", chat(hi, ",\"max_tokens\":1,\"max_tokens\":9")),
                400, "duplicate_key", "max_tokens"));
        error(client.post("/v1/chat/completions", chat(hi, ",\"messages\":" + user("\"bye\""))), 400,
                "duplicate_key", "messages");
        error(client.post("/v1/chat/completions", chat("[{\"role\":\"user\",\"content\":\"a\",\"content\":\"b\"}]",
                "")), 400, "duplicate_key", "messages[0].content");
        error(client.post("/v1/completions", "{\"model\":\"scripted\",\"prompt\":\"a\",\"prompt\":\"b\"}"), 400,
                "duplicate_key", "prompt");
    }

    @Test
    void anIntegerOutOfRangeSaysSo() {
        String msg = error(client.post("/v1/completions", "{\"model\": \"scripted\", \"prompt\": \"hi\", "
                + "\"max_tokens\": 1000000000000}"), 400, "invalid_value", "max_tokens");
        assertEquals("'max_tokens' must be an integer from 1 to 2147483647, got 1000000000000", msg);
    }

    @Test
    void aBodyNotDeclaredJsonIs415() throws Exception {
        java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + server.port()
                        + "/v1/chat/completions")).header("Content-Type", "text/plain")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(chat(user("\"hi\""), ""))).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals("the request body must be sent as 'Content-Type: application/json', got 'text/plain'",
                error(new HttpTestClient.Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""),
                        r.body()), 415, "unsupported_media_type", null));
    }

    @Test
    void aStreamPastItsTimeoutEndsWithAnErrorEvent() throws Exception {
        ScriptedBackend b = new ScriptedBackend();
        b.tokenDelay(100);
        try (OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults().withRequestTimeout(Duration.ofMillis(700)),
                null).start("127.0.0.1", 0)) {
            HttpTestClient.Reply r = new HttpTestClient(s.port(), null).post("/v1/chat/completions",
                    chat(user("\"hi\""), ",\"max_tokens\":100,\"stream\":true"));
            assertEquals(200, r.status());
            java.util.List<JsonNode> chunks = r.chunks();
            JsonNode last = chunks.get(chunks.size() - 1);
            assertEquals("timeout", last.get("error").get("code").asText(), r.body());
            assertTrue(chunks.size() > 2, "some tokens came before the timeout: " + r.body());
            waitUntil(() -> b.cancelled.get() == 1);
        }
    }

    @Test
    void invalidFieldsAre400NamingTheField() {
        String ok = user("\"hi\"");
        assertEquals("'temperature' must be within [0, 2], got 3",
                error(client.post("/v1/chat/completions", chat(ok, ",\"temperature\":3")), 400, "invalid_value",
                        "temperature"));
        error(client.post("/v1/chat/completions", chat(ok, ",\"top_p\":\"high\"")), 400, "invalid_value", "top_p");
        error(client.post("/v1/chat/completions", chat(ok, ",\"max_tokens\":0")), 400, "invalid_value",
                "max_tokens");
        assertEquals("'max_tokens' is 51; this server allows at most 50 (--max-tokens)",
                error(client.post("/v1/chat/completions", chat(ok, ",\"max_tokens\":51")), 400, "invalid_value",
                        "max_tokens"));
        error(client.post("/v1/chat/completions", chat(ok, ",\"n\":2")), 400, "unsupported_parameter", "n");
        error(client.post("/v1/chat/completions", chat(ok, ",\"stop\":[1]")), 400, "invalid_value", "stop");
        error(client.post("/v1/chat/completions", chat(ok, ",\"stream_options\":{\"include_usage\":true}")), 400,
                "invalid_value", "stream_options");
        assertEquals("Unrecognized request argument supplied: foo",
                error(client.post("/v1/chat/completions", chat(ok, ",\"foo\":1")), 400, "unknown_parameter", "foo"));
        // accepted-and-ignored fields keep OpenAI's types
        assertEquals("'user' must be a string, got 5",
                error(client.post("/v1/chat/completions", chat(ok, ",\"user\":5")), 400, "invalid_value", "user"));
        error(client.post("/v1/chat/completions", chat(ok, ",\"metadata\":\"zzz\"")), 400, "invalid_value",
                "metadata");
        error(client.post("/v1/chat/completions", chat(ok, ",\"store\":\"zzz\"")), 400, "invalid_value", "store");
        error(client.post("/v1/chat/completions", chat(ok, ",\"parallel_tool_calls\":1")), 400, "invalid_value",
                "parallel_tool_calls");
        error(client.post("/v1/chat/completions", chat("[{\"role\":\"user\",\"content\":\"hi\",\"name\":5}]", "")),
                400, "invalid_value", "messages[0].name");
        error(client.post("/v1/chat/completions", chat("[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                + "\"image_url\":{\"url\":\"data:image/png;base64,AAAA\",\"foo\":1}}]}]", "")), 400,
                "unknown_parameter", "messages[0].content[0].image_url.foo");
        assertEquals(200, client.post("/v1/chat/completions", chat(ok, ",\"user\":\"u1\",\"store\":false,"
                + "\"metadata\":{\"a\":\"b\"},\"max_tokens\":1")).status());
        error(client.post("/v1/chat/completions", chat("[]", "")), 400, "invalid_value", "messages");
        error(client.post("/v1/chat/completions", "{\"model\":\"scripted\"}"), 400, "invalid_value", "messages");
        error(client.post("/v1/chat/completions", chat("[{\"role\":\"robot\",\"content\":\"x\"}]", "")), 400,
                "invalid_value", "messages[0].role");
        error(client.post("/v1/chat/completions", chat(user("[{\"type\":\"audio\"}]"), "")), 400, "invalid_value",
                "messages[0].content[0].type");
        error(client.post("/v1/chat/completions", chat(
                "[{\"role\":\"assistant\",\"content\":[" + image(HttpTestClient.pngDataUrl(8, 8, 1)) + "]}]", "")),
                400, "invalid_value", "messages[0].content[0].type");
        error(client.post("/v1/completions", "{\"model\":\"scripted\",\"prompt\":[1,2]}"), 400, "invalid_value",
                "prompt");
        error(client.post("/v1/completions", "{\"model\":\"scripted\",\"prompt\":\"hi\"} xyz"), 400,
                "invalid_json", null);
    }

    @Test
    void anEmptyContentArrayIs400NamingTheMessage() {
        String twoTurns = "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":[]}]";
        assertEquals("messages[1].content is an empty array; send at least one content part, or a string",
                error(client.post("/v1/chat/completions", chat(twoTurns, "")), 400, "invalid_value",
                        "messages[1].content"));
    }

    @Test
    void badImagesAre400AndOversizedOnes413() {
        String at = "messages[0].content[0].image_url.url";
        error(client.post("/v1/chat/completions", chat(user("[" + image("data:image/png;base64,AAAA") + "]"), "")),
                400, "invalid_image", at);
        error(client.post("/v1/chat/completions", chat(user("[" + image("data:text/plain;base64,AAAA") + "]"), "")),
                400, "invalid_image_url", at);
        error(client.post("/v1/chat/completions", chat(user("[" + image("file:///etc/passwd") + "]"), "")),
                400, "invalid_image_url", at);
        String remote = error(client.post("/v1/chat/completions",
                chat(user("[" + image("http://169.254.169.254/latest/meta-data") + "]"), "")), 400,
                "remote_images_disabled", at);
        assertTrue(remote.contains("--allow-remote-images"), remote);
        String bomb = error(client.post("/v1/chat/completions", chat(user("[" + image(
                HttpTestClient.pngHeaderOnly(50_000, 50_000)) + "]"), "")), 413, "image_too_large", at);
        assertTrue(bomb.contains("50000x50000") && bomb.contains("refused before decoding"), bomb);
        String three = image(HttpTestClient.pngDataUrl(8, 8, 1));
        error(client.post("/v1/chat/completions", chat(user("[" + three + "," + three + "," + three + "]"), "")),
                400, "too_many_images", "messages[0].content[2]");
        // characters outside the base64 alphabet are an error, not skipped; wrapped lines are fine
        String png = HttpTestClient.pngDataUrl(8, 8, 1);
        int mid = png.length() / 2;
        String bad = error(client.post("/v1/chat/completions", chat(user("[" + image(png.substring(0, mid) + "!!!!"
                + png.substring(mid)) + "]"), ",\"max_tokens\":1")), 400, "invalid_image_url", at);
        assertEquals(at + ": invalid base64 in data URL: Illegal base64 character 21", bad);
        assertEquals(200, client.post("/v1/chat/completions", chat(user("[" + image(png.substring(0, mid) + "\\r\\n"
                + png.substring(mid)) + "]"), ",\"max_tokens\":1")).status());
    }

    @Test
    void remoteImagesAreFetchedOnlyWhenAllowed() throws Exception {
        byte[] png = java.util.Base64.getDecoder().decode(HttpTestClient.pngDataUrl(16, 16, 4).substring(22));
        com.sun.net.httpserver.HttpServer files = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        files.createContext("/pic.png", ex -> {
            ex.sendResponseHeaders(200, png.length);
            ex.getResponseBody().write(png);
            ex.close();
        });
        files.start();
        ServeLimits d = ServeLimits.defaults();
        ServeLimits remote = new ServeLimits(d.maxBodyBytes(), d.maxImages(), d.maxImagePixels(),
                d.maxPromptTokens(), d.maxTokens(), d.queueSize(), d.requestTimeout(), d.imageCacheEntries(), true,
                Duration.ofSeconds(5));
        String base = "http://127.0.0.1:" + files.getAddress().getPort();
        try (OpenAiServer s = new OpenAiServer(new ScriptedBackend(), remote, null).start("127.0.0.1", 0)) {
            HttpTestClient c = new HttpTestClient(s.port(), null);
            JsonNode ok = c.post("/v1/chat/completions", chat(user("[" + image(base + "/pic.png") + "]"),
                    ",\"max_tokens\":1")).json();
            assertEquals(4, ok.get("usage").get("prompt_tokens_details").get("image_tokens").asInt(), ok.toString());
            String msg = error(c.post("/v1/chat/completions", chat(user("[" + image(base + "/missing.png") + "]"),
                    "")), 400, "image_fetch_failed", "messages[0].content[0].image_url.url");
            assertTrue(msg.endsWith("answered HTTP 404"), msg);
        } finally {
            files.stop(0);
        }
    }

    @Test
    void oversizedBodyIs413() {
        String big = "x".repeat(70 * 1024);
        String msg = error(client.post("/v1/chat/completions", chat(user("\"" + big + "\""), "")), 413,
                "request_too_large", null);
        assertTrue(msg.contains("at most 65536"), msg);
        assertEquals(200, client.get("/health").status());
    }

    /**
     * A body far beyond the limit (more than the socket buffers hold) still gets its 413: the server reads and drops
     * the rest instead of closing on unread bytes, which would reset the connection under the client's feet.
     */
    @Test
    void bodyOfMegabytesGets413NotAReset() {
        String big = "x".repeat(1 << 20);
        String msg = error(client.post("/v1/chat/completions", chat(user("\"" + big + "\""), "")), 413,
                "request_too_large", null);
        assertEquals("the request body is 1048638 bytes; this server accepts at most 65536 (--max-body-bytes)", msg);
        msg = error(client.postChunked("/v1/completions", ("{\"prompt\":\"" + big + "\"}")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8)), 413, "request_too_large", null);
        assertEquals("the request body is larger than 65536 bytes (--max-body-bytes)", msg);
        assertEquals(200, client.get("/health").status());
    }

    /**
     * The refusal comes at once (from the headers), and the server then reads the body the client goes on sending: a
     * server that closed here would make the client's write fail (broken pipe / reset), losing the reply.
     */
    @Test
    void refusedBodyIsReadAfterTheAnswer() throws Exception {
        int size = 4 << 20;
        try (java.net.Socket so = new java.net.Socket("127.0.0.1", server.port())) {
            so.setSoTimeout(20_000);
            java.io.OutputStream out = so.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + size + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            java.io.InputStream in = so.getInputStream();
            String head = readUntil(in, "request_too_large");
            assertTrue(head.startsWith("HTTP/1.1 413 "), head);
            byte[] chunk = new byte[64 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'x');
            for (int sent = 0; sent < size; sent += chunk.length) {
                out.write(chunk); // throws (broken pipe) if the server closed without reading
            }
            out.flush();
        }
        assertEquals(200, client.get("/health").status());
    }

    /** With Expect: 100-continue the body is asked for, so a chunked body over the limit is drained as well. */
    @Test
    void anAskedForChunkedBodyOverTheLimitIsDrained() throws Exception {
        try (java.net.Socket so = new java.net.Socket("127.0.0.1", server.port())) {
            so.setSoTimeout(20_000);
            java.io.OutputStream out = so.getOutputStream();
            java.io.InputStream in = so.getInputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            String cont = new String(in.readNBytes(12), java.nio.charset.StandardCharsets.US_ASCII);
            assertEquals("HTTP/1.1 100", cont);
            byte[] chunk = new byte[64 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'x');
            for (int i = 0; i < 64; i++) { // 4 MiB, far over the 64 KiB limit
                out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(java.nio.charset.StandardCharsets
                        .US_ASCII));
                out.write(chunk); // throws (broken pipe) if the server closed without reading
                out.write("\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
            out.write("0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            String reply = readUntil(in, "request_too_large");
            assertTrue(reply.contains("HTTP/1.1 413 "), reply);
        }
    }

    /** A body cut short (the client half-closes after fewer bytes than declared) is a 400, not a server error. */
    @Test
    void aTruncatedBodyIs400() throws Exception {
        String body = "{\"model\":\"scripted\",\"prompt\":\"hi\"}";
        try (java.net.Socket so = new java.net.Socket("127.0.0.1", server.port())) {
            so.setSoTimeout(20_000);
            java.io.OutputStream out = so.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000\r\n\r\n" + body).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            so.shutdownOutput();
            String reply = new String(so.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(reply.startsWith("HTTP/1.1 400 "), reply);
            assertTrue(reply.contains("\"message\":\"the request body ended before its declared Content-Length of "
                    + "1000 bytes: the connection was closed part way\""), reply);
            assertTrue(reply.contains("\"code\":\"incomplete_body\""), reply);
        }
        waitUntil(() -> server.metrics().render().contains("endpoint=\"/v1/completions\",status=\"400\""));
        assertFalse(server.metrics().render().contains("status=\"500\""), server.metrics().render());
    }

    @Test
    void tooLongPromptIs400ContextLengthExceeded() {
        error(client.post("/v1/chat/completions", chat(user("\"" + "y".repeat(240) + "\""), "")), 400,
                "context_length_exceeded", "messages"); // 241 tokens > --max-prompt-tokens 240
        String msg = error(client.post("/v1/completions", "{\"model\":\"scripted\",\"prompt\":\"" + "z".repeat(219)
                + "\",\"max_tokens\":50}"), 400, "context_length_exceeded", "prompt");
        assertEquals("This model's maximum context length is 256 tokens. However, you requested 270 tokens (220 in "
                + "the prompt, 50 in the completion). Please reduce the length of the prompt or completion.", msg);
    }

    /**
     * Megabytes of prompt are refused from their length alone ({@link ChatBackend#minPromptTokens}): the backend is
     * never asked to count them, which for a real tokenizer takes seconds of CPU per megabyte.
     */
    @Test
    void aPromptOfMegabytesIsRefusedWithoutCountingIt() {
        ScriptedBackend b = new ScriptedBackend();
        ServeLimits d = ServeLimits.defaults();
        try (OpenAiServer s = new OpenAiServer(b, d, null).start("127.0.0.1", 0)) {
            HttpTestClient c = new HttpTestClient(s.port(), null);
            String huge = "z".repeat(4_000_000);
            assertEquals("This model's maximum context length is 256 tokens. However, you requested at least 1000005 "
                    + "tokens (at least 1000000 in the prompt, 5 in the completion). Please reduce the length of the "
                    + "prompt or completion.", error(c.post("/v1/completions", "{\"model\":\"scripted\",\"prompt\":\""
                    + huge + "\",\"max_tokens\":5}"), 400, "context_length_exceeded", "prompt"));
            error(c.post("/v1/chat/completions", chat(user("\"" + huge + "\""), "")), 400, "context_length_exceeded",
                    "messages");
            assertEquals(0, b.longestCounted.get(), "the backend counted a prompt");
        }
        ServeLimits capped = new ServeLimits(d.maxBodyBytes(), d.maxImages(), d.maxImagePixels(), 240, d.maxTokens(),
                d.queueSize(), d.requestTimeout(), d.imageCacheEntries(), false, d.remoteImageTimeout());
        try (OpenAiServer s = new OpenAiServer(b, capped, null).start("127.0.0.1", 0)) {
            assertEquals("the prompt takes at least 250000 tokens; this server accepts at most 240 "
                    + "(--max-prompt-tokens)", error(new HttpTestClient(s.port(), null).post("/v1/completions",
                    "{\"model\":\"scripted\",\"prompt\":\"" + "z".repeat(1_000_000) + "\"}"), 400,
                    "context_length_exceeded", "prompt"));
            assertEquals(0, b.longestCounted.get(), "the backend counted a prompt");
        }
    }

    @Test
    void unknownModelAndPathAre404() {
        String msg = error(client.post("/v1/chat/completions", "{\"model\":\"gpt-4o\",\"messages\":"
                + user("\"hi\"") + "}"), 404, "model_not_found", "model");
        assertEquals("The model 'gpt-4o' does not exist; this server serves 'scripted'", msg);
        error(client.get("/v1/embeddings"), 404, "unknown_url", null);
        error(client.get("/v1/chat/completions"), 404, "unknown_url", null);
    }

    @Test
    void wrongOrMissingApiKeyIs401() throws Exception {
        try (OpenAiServer keyed = new OpenAiServer(new ScriptedBackend(), ServeLimits.defaults(), "sk-test")
                .start("127.0.0.1", 0)) {
            String body = chat(user("\"hi\""), ",\"max_tokens\":1");
            error(new HttpTestClient(keyed.port(), null).post("/v1/chat/completions", body), 401, "invalid_api_key",
                    null);
            assertEquals("Incorrect API key provided.", error(new HttpTestClient(keyed.port(), "sk-wrong")
                    .post("/v1/chat/completions", body), 401, "invalid_api_key", null));
            error(new HttpTestClient(keyed.port(), null).get("/metrics"), 401, "invalid_api_key", null);
            // HEAD is checked as GET is (it answered 200 without running the handler)
            java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
            for (String path : new String[] {"/v1/models", "/metrics", "/v1/models/scripted"}) {
                java.net.http.HttpResponse<Void> head = http.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + keyed.port() + path)).method("HEAD",
                        java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                        java.net.http.HttpResponse.BodyHandlers.discarding());
                assertEquals(401, head.statusCode(), path);
            }
            HttpTestClient good = new HttpTestClient(keyed.port(), "sk-test");
            assertEquals(200, good.post("/v1/chat/completions", body).status());
            assertEquals(200, new HttpTestClient(keyed.port(), null).get("/health").status(), "health is open");
        }
    }

    @Test
    void fullQueueIs429AndTimeoutIs503() throws Exception {
        ScriptedBackend held = new ScriptedBackend();
        held.hold();
        ServeLimits limits = ServeLimits.defaults().withQueueSize(1).withRequestTimeout(Duration.ofSeconds(20));
        try (OpenAiServer small = new OpenAiServer(held, limits, null).start("127.0.0.1", 0)) {
            HttpTestClient c = new HttpTestClient(small.port(), null);
            String body = chat(user("\"hi\""), ",\"max_tokens\":2");
            CompletableFuture<HttpTestClient.Reply> running = CompletableFuture.supplyAsync(
                    () -> c.post("/v1/chat/completions", body));
            waitUntil(() -> held.started.get() == 1);
            CompletableFuture<HttpTestClient.Reply> queued = CompletableFuture.supplyAsync(
                    () -> c.post("/v1/chat/completions", body));
            waitUntil(() -> small.metrics().render().contains("mm1_queue_depth 1"));
            String msg = error(c.post("/v1/chat/completions", body), 429, "queue_full", null);
            assertTrue(msg.contains("--queue-size"), msg);
            held.release();
            assertEquals("w0 w1", running.get(30, TimeUnit.SECONDS).json().get("choices").get(0).get("message")
                    .get("content").asText());
            assertEquals(200, queued.get(30, TimeUnit.SECONDS).status());
        }
        ScriptedBackend slow = new ScriptedBackend();
        slow.hold();
        limits = ServeLimits.defaults().withRequestTimeout(Duration.ofMillis(300));
        try (OpenAiServer timed = new OpenAiServer(slow, limits, null).start("127.0.0.1", 0)) {
            String msg = error(new HttpTestClient(timed.port(), null).post("/v1/chat/completions",
                    chat(user("\"hi\""), ",\"max_tokens\":2")), 503, "timeout", null);
            assertTrue(msg.contains("--request-timeout"), msg);
            slow.release();
            waitUntil(() -> slow.cancelled.get() == 1); // the running generation was told to stop
        }
    }

    @Test
    void clientDisconnectStopsItsStreamingGeneration() throws Exception {
        disconnect(true, new ScriptedBackend());
    }

    @Test
    void clientDisconnectStopsItsNonStreamingGeneration() throws Exception {
        disconnect(false, new ScriptedBackend());
    }

    @Test
    void withABatchingBackendADisconnectFreesItsPlaceInTheBatch() throws Exception {
        disconnect(true, new ScriptedBackend().batching(2));
        disconnect(false, new ScriptedBackend().batching(2));
    }

    @Test
    void withABatchingBackendTheBatchRunsTogetherThenWaitingPlacesFillThen429() throws Exception {
        ScriptedBackend held = new ScriptedBackend().batching(2);
        held.hold();
        ServeLimits limits = ServeLimits.defaults().withQueueSize(1).withRequestTimeout(Duration.ofSeconds(20));
        try (OpenAiServer small = new OpenAiServer(held, limits, null).start("127.0.0.1", 0)) {
            HttpTestClient c = new HttpTestClient(small.port(), null);
            String body = chat(user("\"hi\""), ",\"max_tokens\":2");
            List<CompletableFuture<HttpTestClient.Reply>> running = new java.util.ArrayList<>();
            for (int i = 0; i < 2; i++) {
                running.add(CompletableFuture.supplyAsync(() -> c.post("/v1/chat/completions", body)));
            }
            waitUntil(() -> held.started.get() == 2); // both decode at once
            waitUntil(() -> small.metrics().render().contains("mm1_batch_running 2"));
            CompletableFuture<HttpTestClient.Reply> queued = CompletableFuture.supplyAsync(
                    () -> c.post("/v1/chat/completions", body));
            waitUntil(() -> small.metrics().render().contains("mm1_queue_depth 1"));
            String msg = error(c.post("/v1/chat/completions", body), 429, "queue_full", null);
            assertTrue(msg.contains("--queue-size"), msg);
            held.release();
            for (CompletableFuture<HttpTestClient.Reply> r : running) {
                assertEquals("w0 w1", r.get(30, TimeUnit.SECONDS).json().get("choices").get(0).get("message")
                        .get("content").asText());
            }
            assertEquals(200, queued.get(30, TimeUnit.SECONDS).status());
        }
        ScriptedBackend slow = new ScriptedBackend().batching(1);
        slow.hold();
        limits = ServeLimits.defaults().withRequestTimeout(Duration.ofMillis(300));
        try (OpenAiServer timed = new OpenAiServer(slow, limits, null).start("127.0.0.1", 0)) {
            HttpTestClient c = new HttpTestClient(timed.port(), null);
            String body = chat(user("\"hi\""), ",\"max_tokens\":2");
            CompletableFuture<HttpTestClient.Reply> first = CompletableFuture.supplyAsync(
                    () -> c.post("/v1/chat/completions", body));
            waitUntil(() -> slow.started.get() == 1);
            error(c.post("/v1/chat/completions", body), 503, "timeout", null); // timed out while waiting
            error(first.get(30, TimeUnit.SECONDS), 503, "timeout", null);
            slow.release();
            waitUntil(() -> slow.cancelled.get() == 1); // the running one was told to stop
            assertEquals(1, slow.started.get(), "the request that timed out while waiting never started");
        }
    }

    /**
     * A graceful stop (SIGTERM): new requests get 503 shutting_down at once, a short running request finishes within
     * the grace period, a long stream still running at its end is stopped with an error event and [DONE].
     */
    @Test
    void drainLetsRunningRequestsFinishAndEndsTheRestCleanly() throws Exception {
        ScriptedBackend b = new ScriptedBackend().batching(4);
        b.tokenDelay(40);
        OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0);
        try {
            HttpTestClient c = new HttpTestClient(s.port(), null);
            CompletableFuture<HttpTestClient.Reply> longStream = CompletableFuture.supplyAsync(() -> c.post(
                    "/v1/chat/completions", chat(user("\"hi\""), ",\"max_tokens\":200,\"stream\":true")));
            CompletableFuture<HttpTestClient.Reply> shortOne = CompletableFuture.supplyAsync(() -> c.post(
                    "/v1/chat/completions", chat(user("\"hi\""), ",\"max_tokens\":5")));
            waitUntil(() -> b.started.get() == 2);
            CompletableFuture<OpenAiServer.InFlight> cut = CompletableFuture.supplyAsync(
                    () -> s.drain(Duration.ofSeconds(4)));
            waitUntil(() -> c.get("/health").status() == 503);
            error(c.post("/v1/chat/completions", chat(user("\"hi\""), ",\"max_tokens\":1")), 503, "shutting_down",
                    null);
            assertEquals(new OpenAiServer.InFlight(1, 0, 0), cut.get(30, TimeUnit.SECONDS), "the long stream was cut");
            HttpTestClient.Reply shortReply = shortOne.get(30, TimeUnit.SECONDS);
            assertEquals(200, shortReply.status(), shortReply.body());
            assertEquals("w0 w1 w2 w3 w4", shortReply.json().get("choices").get(0).get("message").get("content")
                    .asText());
            HttpTestClient.Reply stream = longStream.get(30, TimeUnit.SECONDS);
            assertTrue(stream.body().endsWith("data: [DONE]\n\n"), stream.body());
            java.util.List<JsonNode> chunks = stream.chunks();
            assertEquals("shutting_down", chunks.get(chunks.size() - 1).get("error").get("code").asText());
            assertTrue(chunks.size() > 5, "tokens came before the stop: " + stream.body());
        } finally {
            s.close();
            b.close();
        }
    }

    /**
     * The shutdown's counts tell a request generating from one waiting behind it (they were one number, as if all
     * were running): one worker, so the second request queues; both are cut by a drain without grace.
     */
    @Test
    void drainCountsRunningAndQueuedRequestsSeparately() throws Exception {
        ScriptedBackend b = new ScriptedBackend();
        b.tokenDelay(50);
        OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0);
        try {
            HttpTestClient c = new HttpTestClient(s.port(), null);
            String body = chat(user("\"hi\""), ",\"max_tokens\":200");
            List<CompletableFuture<HttpTestClient.Reply>> replies = new java.util.ArrayList<>();
            for (int i = 0; i < 2; i++) {
                replies.add(CompletableFuture.supplyAsync(() -> c.post("/v1/chat/completions", body)));
            }
            waitUntil(() -> s.inFlight().equals(new OpenAiServer.InFlight(1, 1, 0)));
            assertEquals("1 running, 1 queued", s.inFlight().toString());
            assertEquals(new OpenAiServer.InFlight(1, 1, 0), s.drain(Duration.ZERO));
            for (CompletableFuture<HttpTestClient.Reply> r : replies) {
                error(r.get(30, TimeUnit.SECONDS), 503, "shutting_down", null);
            }
        } finally {
            s.close();
            b.close();
        }
    }

    @Test
    void aLongNonStreamingRequestOutlivesTheConnectionIdleTimeout() throws Exception {
        ScriptedBackend b = new ScriptedBackend();
        b.tokenDelay(50);
        try (OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0)) {
            s.idleTimeout(Duration.ofMillis(300));
            JsonNode j = new HttpTestClient(s.port(), null).post("/v1/chat/completions",
                    chat(user("\"hi\""), ",\"max_tokens\":20")).json(); // ~1 s of generation, idle on the socket
            assertEquals("length", j.get("choices").get(0).get("finish_reason").asText(), j.toString());
            assertEquals(20, j.get("usage").get("completion_tokens").asInt());
            assertEquals(0, b.cancelled.get());
        }
    }

    /**
     * One INFO line per client that leaves, naming its request and the tokens generated by then, and a 499 in the
     * metrics; whether a failed write (stream) or the read-side watch (non-streaming) noticed.
     */
    @Test
    void aClientDisconnectIsLoggedOnceWithItsRequestIdAndTokens() throws Exception {
        for (boolean stream : new boolean[] {true, false}) {
            List<String> lines = disconnect(stream, new ScriptedBackend());
            assertEquals(1, lines.size(), lines.toString());
            assertTrue(lines.get(0).matches("chatcmpl-[0-9a-f]{24}: client disconnected after [1-9][0-9]* generated "
                    + "token\\(s\\); its generation was stopped"), lines.get(0));
        }
    }

    /** Runs a request whose client leaves mid-generation; returns the disconnect lines the server logged. */
    private static List<String> disconnect(boolean stream, ScriptedBackend b) throws Exception {
        b.tokenDelay(20);
        ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
                OpenAiServer.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> seen =
                new ch.qos.logback.core.read.ListAppender<>();
        seen.start();
        log.addAppender(seen);
        try (OpenAiServer s = new OpenAiServer(b, ServeLimits.defaults(), null).start("127.0.0.1", 0)) {
            String body = chat(user("\"hi\""), ",\"max_tokens\":200,\"stream\":" + stream);
            try (Socket sock = new Socket("127.0.0.1", s.port())) {
                OutputStream out = sock.getOutputStream();
                out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
                        + "\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                        .getBytes(StandardCharsets.UTF_8));
                out.flush();
                InputStream in = sock.getInputStream();
                if (stream) {
                    String head = new String(in.readNBytes(12), StandardCharsets.US_ASCII);
                    assertEquals("HTTP/1.1 200", head, () -> head + readSome(in));
                }
                assertTrue(b.firstTokenSent.await(10, TimeUnit.SECONDS));
            }
            waitUntil(() -> b.cancelled.get() == 1);
            assertTrue(b.tokensProduced.get() < 200, "generation went on after the client left: "
                    + b.tokensProduced.get() + " tokens");
            // the backend sees the cancel before the server counts it when the generation returns
            waitUntil(() -> s.metrics().render().contains("mm1_generations_cancelled_total 1"));
            waitUntil(() -> b.running() == 0); // its place in the batch is free
            waitUntil(() -> s.metrics().render().contains("status=\"499\""));
            return seen.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.INFO)
                    .map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
                    .filter(m -> m.contains("client disconnected")).toList();
        } finally {
            log.detachAppender(seen);
            b.close();
        }
    }

    /** What {@code in} yields up to and including {@code marker}; fails if the connection closes before it. */
    private static String readUntil(InputStream in, String marker) throws java.io.IOException {
        StringBuilder got = new StringBuilder();
        while (!got.toString().contains(marker)) {
            int c = in.read();
            assertTrue(c >= 0, "connection closed after: " + got);
            got.append((char) c);
        }
        return got.toString();
    }

    private static String readSome(InputStream in) {
        try {
            return new String(in.readNBytes(Math.max(0, in.available())), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("condition not reached within 20 s");
            }
            Thread.sleep(10);
        }
    }
}
