package io.mm1j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The wire format of every endpoint, against a scripted backend whose answers are known ("w0 w1 w2 …"). */
class OpenAiProtocolTest {
    private static ScriptedBackend backend;
    private static OpenAiServer server;
    private static HttpTestClient client;

    @BeforeAll
    static void start() {
        backend = new ScriptedBackend();
        server = new OpenAiServer(backend, ServeLimits.defaults(), null).start("127.0.0.1", 0);
        client = new HttpTestClient(server.port(), null);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String chatBody(String extra) {
        return "{\"model\":\"scripted\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\""
                + HttpTestClient.pngDataUrl(8, 8, 1) + "\"}},{\"type\":\"text\",\"text\":\"hi\"}]}]" + extra + "}";
    }

    @Test
    void modelsListsTheServedModel() {
        JsonNode m = client.get("/v1/models").json();
        assertEquals("list", m.get("object").asText());
        assertEquals(1, m.get("data").size());
        assertEquals("scripted", m.get("data").get(0).get("id").asText());
        assertEquals("model", m.get("data").get(0).get("object").asText());
        assertEquals(200, client.get("/v1/models/scripted").status());
        assertEquals("model_not_found", client.get("/v1/models/gpt-4o").json().get("error").get("code").asText());
    }

    @Test
    void chatCompletionHasOpenAisShapeAndCountsImageTokens() {
        HttpTestClient.Reply r = client.post("/v1/chat/completions", chatBody(",\"max_tokens\":3"));
        assertEquals(200, r.status(), r.body());
        assertTrue(r.contentType().startsWith("application/json"), r.contentType());
        JsonNode j = r.json();
        assertTrue(j.get("id").asText().startsWith("chatcmpl-"));
        assertEquals("chat.completion", j.get("object").asText());
        assertEquals("scripted", j.get("model").asText());
        JsonNode choice = j.get("choices").get(0);
        assertEquals("assistant", choice.get("message").get("role").asText());
        assertEquals("w0 w1 w2", choice.get("message").get("content").asText());
        assertEquals("length", choice.get("finish_reason").asText());
        JsonNode u = j.get("usage");
        // 1 (BOS) + "be brief" (8) + image (4) + "hi" (2)
        assertEquals(15, u.get("prompt_tokens").asInt());
        assertEquals(4, u.get("prompt_tokens_details").get("image_tokens").asInt());
        assertEquals(3, u.get("completion_tokens").asInt());
        assertEquals(18, u.get("total_tokens").asInt());
    }

    @Test
    void streamSendsRoleThenDeltasThenFinishThenUsageThenDone() {
        HttpTestClient.Reply r = client.post("/v1/chat/completions",
                chatBody(",\"max_completion_tokens\":3,\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertEquals(200, r.status(), r.body());
        assertTrue(r.contentType().startsWith("text/event-stream"), r.contentType());
        List<JsonNode> chunks = r.chunks();
        assertEquals(6, chunks.size(), r.body()); // role, 3 deltas, finish, usage
        String id = chunks.get(0).get("id").asText();
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            JsonNode c = chunks.get(i);
            assertEquals("chat.completion.chunk", c.get("object").asText());
            assertEquals(id, c.get("id").asText());
            assertTrue(c.get("usage").isNull(), "usage is null on every chunk but the last");
            JsonNode choice = c.get("choices").get(0);
            text.append(choice.get("delta").path("content").asText(""));
            assertEquals(i == 4 ? "length" : null, choice.get("finish_reason").textValue());
        }
        assertEquals("assistant", chunks.get(0).get("choices").get(0).get("delta").get("role").asText());
        assertEquals("w0 w1 w2", text.toString());
        JsonNode last = chunks.get(5);
        assertEquals(0, last.get("choices").size());
        assertEquals(15, last.get("usage").get("prompt_tokens").asInt());
        assertEquals(3, last.get("usage").get("completion_tokens").asInt());
    }

    @Test
    void streamWithoutUsageHasNoUsageField() {
        HttpTestClient.Reply r = client.post("/v1/chat/completions", chatBody(",\"max_tokens\":2,\"stream\":true"));
        List<JsonNode> chunks = r.chunks();
        assertEquals(4, chunks.size(), r.body());
        chunks.forEach(c -> assertFalse(c.has("usage"), c.toString()));
    }

    @Test
    void stopSequenceEndsTheAnswer() {
        JsonNode j = client.post("/v1/chat/completions", chatBody(",\"max_tokens\":9,\"stop\":[\"w2\"]")).json();
        assertEquals("w0 w1", j.get("choices").get(0).get("message").get("content").asText());
        assertEquals("stop", j.get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void legacyCompletionsDefaultsTo16TokensAndStreams() {
        JsonNode j = client.post("/v1/completions", "{\"model\":\"scripted\",\"prompt\":\"Once\"}").json();
        assertEquals("text_completion", j.get("object").asText());
        assertTrue(j.get("id").asText().startsWith("cmpl-"));
        assertEquals(String.join(" ", ScriptedBackend.words(16)), j.get("choices").get(0).get("text").asText());
        assertEquals(5, j.get("usage").get("prompt_tokens").asInt());
        HttpTestClient.Reply s = client.post("/v1/completions",
                "{\"model\":\"scripted\",\"prompt\":[\"Once\"],\"max_tokens\":2,\"stream\":true}");
        List<JsonNode> chunks = s.chunks();
        assertEquals(3, chunks.size(), s.body());
        assertEquals("w0", chunks.get(0).get("choices").get(0).get("text").asText());
        assertEquals(" w1", chunks.get(1).get("choices").get(0).get("text").asText());
        assertEquals("length", chunks.get(2).get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void healthMetricsAndChatPage() {
        JsonNode h = client.get("/health").json();
        assertEquals("ok", h.get("status").asText());
        assertEquals(ServeLimits.DEFAULT_QUEUE_SIZE, h.get("queue_capacity").asInt());
        client.post("/v1/chat/completions", chatBody(",\"max_tokens\":1"));
        HttpTestClient.Reply m = client.get("/metrics");
        assertTrue(m.contentType().startsWith("text/plain"), m.contentType());
        for (String line : List.of("# TYPE mm1_requests_total counter", "# TYPE mm1_queue_depth gauge",
                "mm1_queue_depth 0", "# TYPE mm1_request_duration_seconds histogram",
                "mm1_request_duration_seconds_bucket{endpoint=\"/v1/chat/completions\",le=\"+Inf\"} ",
                "mm1_time_to_first_token_seconds_count ", "mm1_completion_tokens_total ")) {
            assertTrue(m.body().contains(line), "metrics lack '" + line + "':\n" + m.body());
        }
        assertTrue(m.body().matches("(?s).*mm1_requests_total\\{endpoint=\"/v1/chat/completions\",status=\"200\"} "
                + "[1-9].*"), m.body());
        HttpTestClient.Reply page = client.get("/");
        assertEquals(200, page.status());
        assertTrue(page.contentType().startsWith("text/html"), page.contentType());
        assertTrue(page.body().contains("<title>mm1j chat</title>"), page.body());
        assertEquals(200, client.get("/chat.js").status());
    }
}
