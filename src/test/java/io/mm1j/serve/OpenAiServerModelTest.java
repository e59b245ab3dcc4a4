package io.mm1j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server over a real (untrained, tiny-test) model: chat with images, streaming equal to non-streaming for the
 * same greedy or seeded request, image tokens in the usage, the image cache across turns, legacy completions.
 */
class OpenAiServerModelTest {
    @TempDir
    static Path tmp;
    private static TinyModelServer tiny;
    private static final String RED = HttpTestClient.pngDataUrl(32, 32, 1);
    private static final String BLUE = HttpTestClient.pngDataUrl(40, 24, 2);

    @BeforeAll
    static void start() {
        tiny = new TinyModelServer(tmp.resolve("tiny"), ServeLimits.defaults());
    }

    @AfterAll
    static void stop() {
        tiny.close();
    }

    static String image(String url) {
        return "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\"}}";
    }

    static String text(String t) {
        return "{\"type\":\"text\",\"text\":\"" + t + "\"}";
    }

    static String body(String messages, String extra) {
        return "{\"model\":\"tiny\",\"messages\":" + messages + extra + "}";
    }

    /** Text of a stream's content deltas, checking the shape on the way. */
    static String streamedText(HttpTestClient.Reply r) {
        assertEquals(200, r.status(), r.body());
        StringBuilder sb = new StringBuilder();
        for (JsonNode c : r.chunks()) {
            for (JsonNode choice : c.get("choices")) {
                sb.append(choice.get("delta").path("content").asText(""));
            }
        }
        return sb.toString();
    }

    @Test
    void concurrentRequestsShareDecodeStepsAndGetWhatEachGetsAlone() throws Exception {
        assertTrue(tiny.backend.batches());
        List<String> bodies = List.of(
                body("[{\"role\":\"user\",\"content\":\"hello there\"}]", ",\"max_tokens\":12,\"temperature\":0"),
                body("[{\"role\":\"user\",\"content\":[" + image(RED) + "," + text("what is it") + "]}]",
                        ",\"max_tokens\":7,\"temperature\":0"),
                body("[{\"role\":\"user\",\"content\":\"tell me a story\"}]",
                        ",\"max_tokens\":9,\"temperature\":0,\"stream\":true"),
                body("[{\"role\":\"user\",\"content\":\"sample\"}]", ",\"max_tokens\":10,\"seed\":5"));
        List<String> alone = new java.util.ArrayList<>();
        for (String b : bodies) {
            alone.add(answer(tiny.client.post("/v1/chat/completions", b)));
        }
        for (int round = 0; round < 2; round++) {
            List<java.util.concurrent.CompletableFuture<HttpTestClient.Reply>> together = new java.util.ArrayList<>();
            for (String b : bodies) {
                together.add(java.util.concurrent.CompletableFuture.supplyAsync(
                        () -> tiny.client.post("/v1/chat/completions", b)));
            }
            for (int i = 0; i < bodies.size(); i++) {
                assertEquals(alone.get(i), answer(together.get(i).get(60, java.util.concurrent.TimeUnit.SECONDS)),
                        "request " + i);
            }
        }
        assertEquals(0, tiny.backend.running());
    }

    /** The answer's text and finish reason, streamed or not. */
    private static String answer(HttpTestClient.Reply r) {
        assertEquals(200, r.status(), r.body());
        if (r.body().startsWith("data: ")) {
            String finish = null;
            for (JsonNode c : r.chunks()) {
                JsonNode f = c.get("choices").get(0).get("finish_reason");
                if (f != null && !f.isNull()) {
                    finish = f.asText();
                }
            }
            return streamedText(r) + " | " + finish;
        }
        JsonNode choice = r.json().get("choices").get(0);
        return choice.get("message").get("content").asText() + " | " + choice.get("finish_reason").asText();
    }

    @Test
    void streamedDeltasConcatenateToTheNonStreamedAnswerWithAnImage() {
        String messages = "[{\"role\":\"user\",\"content\":[" + image(RED) + "," + text("What is this?") + "]}]";
        for (String sampling : List.of(",\"temperature\":0", ",\"temperature\":1.0,\"top_p\":0.9,\"seed\":7")) {
            HttpTestClient.Reply whole = tiny.client.post("/v1/chat/completions",
                    body(messages, ",\"max_tokens\":12" + sampling));
            assertEquals(200, whole.status(), whole.body());
            JsonNode j = whole.json();
            String answer = j.get("choices").get(0).get("message").get("content").asText();
            JsonNode usage = j.get("usage");
            assertEquals(4, usage.get("prompt_tokens_details").get("image_tokens").asInt(), "tiny-test: k = 4");
            int completion = usage.get("completion_tokens").asInt();
            assertTrue(completion >= 1 && completion <= 12, usage.toString());
            String finish = j.get("choices").get(0).get("finish_reason").asText();
            assertTrue(finish.equals("length") ? completion == 12 : finish.equals("stop"), j.toString());

            HttpTestClient.Reply stream = tiny.client.post("/v1/chat/completions", body(messages,
                    ",\"max_tokens\":12,\"stream\":true,\"stream_options\":{\"include_usage\":true}" + sampling));
            assertEquals(answer, streamedText(stream), sampling);
            List<JsonNode> chunks = stream.chunks();
            assertEquals(usage, chunks.get(chunks.size() - 1).get("usage"), "same usage streamed and whole");
        }
    }

    @Test
    void twoImagesInOneMessageCountTwiceAndTheCacheServesLaterTurns() {
        long[] before = tiny.backend.imageCacheStats();
        String turn1 = "{\"role\":\"user\",\"content\":[" + image(BLUE) + "," + image(RED) + "," + text("Compare.")
                + "]}";
        JsonNode first = tiny.client.post("/v1/chat/completions", body("[" + turn1 + "]", ",\"max_tokens\":3"))
                .json();
        assertEquals(8, first.get("usage").get("prompt_tokens_details").get("image_tokens").asInt());
        String reply = first.get("choices").get(0).get("message").get("content").asText();
        long[] afterFirst = tiny.backend.imageCacheStats();
        String turn2 = turn1 + ",{\"role\":\"assistant\",\"content\":" + HttpTestClient.JSON.valueToTree(reply)
                + "},{\"role\":\"user\",\"content\":[" + image(BLUE) + "," + text("And this one?") + "]}";
        JsonNode second = tiny.client.post("/v1/chat/completions", body("[" + turn2 + "]", ",\"max_tokens\":3"))
                .json();
        assertEquals(12, second.get("usage").get("prompt_tokens_details").get("image_tokens").asInt(),
                second.toString());
        long[] afterSecond = tiny.backend.imageCacheStats();
        assertEquals(3, afterSecond[0] - afterFirst[0], "turn 2's three images all come from the cache");
        assertEquals(0, afterSecond[1] - afterFirst[1], "no image is encoded twice");
        assertTrue(afterFirst[2] >= before[2], "the cache holds the encodings");
        assertTrue(tiny.client.get("/metrics").body().contains("mm1_image_cache_hits_total " + afterSecond[0]));
    }

    @Test
    void generationOnAWorkerThreadRecordsNoGradients() throws Exception {
        java.util.List<Boolean> recording = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread worker = new Thread(() -> tiny.backend.generate(new ChatBackend.TextInput("hi"),
                new Sampling(3, 0, 1, 0, 0, 1, 1L, List.of()), 3, delta -> {
                    recording.add(io.mm1j.nn.BlockScope.recording());
                    return true;
                }));
        worker.start();
        worker.join(60_000);
        assertTrue(!recording.isEmpty() && !recording.contains(true), "libtorch records by default on a fresh "
                + "thread; the backend must switch it off: " + recording);
    }

    @Test
    void legacyCompletionsGenerateFromRawText() {
        JsonNode j = tiny.client.post("/v1/completions",
                "{\"model\":\"tiny\",\"prompt\":\"Once upon\",\"max_tokens\":5,\"temperature\":0}").json();
        assertEquals("text_completion", j.get("object").asText());
        int completion = j.get("usage").get("completion_tokens").asInt();
        assertTrue(completion >= 1 && completion <= 5, j.toString());
        assertEquals(0, j.get("usage").get("prompt_tokens_details").get("image_tokens").asInt());
        HttpTestClient.Reply s = tiny.client.post("/v1/completions",
                "{\"model\":\"tiny\",\"prompt\":\"Once upon\",\"max_tokens\":5,\"temperature\":0,\"stream\":true}");
        StringBuilder sb = new StringBuilder();
        s.chunks().forEach(c -> sb.append(c.get("choices").get(0).get("text").asText()));
        assertEquals(j.get("choices").get(0).get("text").asText(), sb.toString());
    }

    @Test
    void anImageMarkerTypedAsTextIs400() {
        HttpTestClient.Reply r = tiny.client.post("/v1/chat/completions", body(
                "[{\"role\":\"user\",\"content\":\"what is <image>?\"}]", ""));
        assertEquals(400, r.status(), r.body());
        assertEquals("messages", r.json().get("error").get("param").asText(), r.body());
    }

    @Test
    void aPromptBeyondTheContextIs400() {
        String longText = "word ".repeat(200); // tiny-test's context is 128 positions
        JsonNode e = tiny.client.post("/v1/chat/completions", body("[{\"role\":\"user\",\"content\":\"" + longText
                + "\"}]", "")).json().get("error");
        assertEquals("context_length_exceeded", e.get("code").asText(), e.toString());
    }

    /**
     * Megabytes of prompt are refused from their length ("at least"), not tokenised first: the byte-level BPE of an
     * mm1j folder bounds the bytes one token stands for. (Tokenising 8 MB took this server ~14 s of CPU.)
     */
    @Test
    void aPromptOfMegabytesIsRefusedFromItsLength() {
        String huge = "many words ".repeat(400_000);
        for (String[] endpoint : new String[][] {{"/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + huge
                + "\"}", "prompt"}, {"/v1/chat/completions", body("[{\"role\":\"user\",\"content\":\"" + huge
                + "\"}]", ""), "messages"}}) {
            HttpTestClient.Reply r = tiny.client.post(endpoint[0], endpoint[1]);
            assertEquals(400, r.status(), r.body());
            JsonNode e = r.json().get("error");
            assertEquals("context_length_exceeded", e.get("code").asText(), e.toString());
            assertEquals(endpoint[2], e.get("param").asText(), e.toString());
            assertTrue(e.get("message").asText().startsWith("This model's maximum context length is 128 tokens. "
                    + "However, you requested at least "), e.toString());
        }
    }
}
