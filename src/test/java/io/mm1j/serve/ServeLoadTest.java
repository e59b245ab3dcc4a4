package io.mm1j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bounded loopback load: 200 requests, 16 at a time (streaming and not, text and image), against the tiny model
 * with the default queue (32 waiting places ≥ 16 clients): every request succeeds and the server is healthy after.
 */
class ServeLoadTest {
    private static final Logger LOG = LoggerFactory.getLogger(ServeLoadTest.class);
    private static final int REQUESTS = 200;
    private static final int CONCURRENCY = 16;

    @TempDir
    Path tmp;

    @Test
    void twoHundredRequestsSixteenAtATimeAllSucceed() throws Exception {
        try (TinyModelServer tiny = new TinyModelServer(tmp.resolve("tiny"), ServeLimits.defaults())) {
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            String image = "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + HttpTestClient.pngDataUrl(32, 32, 3)
                    + "\"}}";
            Semaphore slots = new Semaphore(CONCURRENCY);
            List<CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < REQUESTS; i++) {
                String content = i % 4 == 0 ? "[" + image + ",{\"type\":\"text\",\"text\":\"hi " + i + "\"}]"
                        : "\"request " + i + "\"";
                String body = "{\"model\":\"tiny\",\"max_tokens\":4,\"seed\":" + i + ",\"stream\":" + (i % 2 == 0)
                        + ",\"messages\":[{\"role\":\"user\",\"content\":" + content + "}]}";
                HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + tiny.server.port()
                        + "/v1/chat/completions")).timeout(Duration.ofSeconds(120))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
                slots.acquire();
                replies.add(http.sendAsync(req, HttpResponse.BodyHandlers.ofString())
                        .whenComplete((r, e) -> slots.release()));
            }
            int ok = 0;
            List<String> failures = new ArrayList<>();
            for (CompletableFuture<HttpResponse<String>> f : replies) {
                HttpResponse<String> r = f.get(120, TimeUnit.SECONDS);
                boolean streamed = r.body().startsWith("data: ");
                if (r.statusCode() == 200 && (streamed ? r.body().endsWith("data: [DONE]\n\n")
                        : r.body().contains("\"chat.completion\""))) {
                    ok++;
                } else {
                    failures.add(r.statusCode() + " " + r.body());
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            LOG.info("load: {} requests, {} concurrent, {} ok in {} s ({} req/s)", REQUESTS, CONCURRENCY, ok,
                    String.format("%.2f", seconds), String.format("%.1f", REQUESTS / seconds));
            assertEquals(List.of(), failures.subList(0, Math.min(3, failures.size())));
            assertEquals(REQUESTS, ok);
            HttpTestClient.Reply health = tiny.client.get("/health");
            assertEquals(200, health.status());
            assertEquals("ok", health.json().get("status").asText());
            assertEquals(0, health.json().get("queue_depth").asInt());
            String metrics = tiny.client.get("/metrics").body();
            assertTrue(metrics.contains("mm1_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} "
                    + REQUESTS), metrics);
            assertTrue(metrics.contains("mm1_requests_in_flight 0"), metrics);
        }
    }
}
