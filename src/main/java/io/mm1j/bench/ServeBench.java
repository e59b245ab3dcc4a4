package io.mm1j.bench;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.Presets;
import io.mm1j.llm.DecodePath;
import io.mm1j.serve.Mm1Backend;
import io.mm1j.serve.OpenAiServer;
import io.mm1j.serve.ServeLimits;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.ImageIO;

/**
 * Serving under concurrency: the model behind {@link OpenAiServer} on a loopback port, then 1, 4, 8, 16 … clients at
 * once, each sending streaming chat requests back to back (one image per request when the model has a vision tower,
 * each image different so the image cache cannot help). Per level: time to first token (the first content chunk)
 * p50/p95, tokens/s per client (its completion tokens over its time) and in aggregate (all tokens over the level's
 * wall time). Clients run in this process, so on a small machine they compete with the server for cores.
 */
public final class ServeBench {
    private ServeBench() {}

    /** What one streaming request measured. */
    private record Sample(double ttftMs, int tokens, double seconds) {}

    /**
     * @param modelDir          the model folder
     * @param source            how the report names it
     * @param levels            concurrent clients per level
     * @param requestsPerClient requests each client sends, one after another
     * @param maxTokens         completion tokens asked per request
     * @param maxBatch          the server's continuous-batching size (0 = one request at a time)
     * @param encodeThreads     the server's libtorch threads (0 = {@link Mm1Backend}'s choice)
     * @param warmUpSeconds     the most time spent in untimed rounds through the levels until the JIT is quiet
     *                          (one round at least)
     */
    public static ObjectNode run(Path modelDir, String source, NDManager root, DecodePath path, int[] levels,
                                 int requestsPerClient, int maxTokens, int maxBatch, int encodeThreads,
                                 double warmUpSeconds) throws Exception {
        if (requestsPerClient < 1 || maxTokens < 1 || levels.length == 0) {
            throw new Mm1Exception("bench serve: --requests and --max-tokens must be >= 1 and --clients non-empty");
        }
        if (!(warmUpSeconds >= 0)) {
            throw new Mm1Exception("bench serve: --warm-up must be >= 0 seconds, got " + warmUpSeconds);
        }
        int most = Arrays.stream(levels).max().getAsInt();
        if (Arrays.stream(levels).min().getAsInt() < 1) {
            throw new Mm1Exception("bench serve: --clients must all be >= 1, got " + Arrays.toString(levels));
        }
        double loadBefore = load();
        ServeLimits limits = ServeLimits.defaults().withQueueSize(Math.max(ServeLimits.DEFAULT_QUEUE_SIZE, most))
                .withRequestTimeout(Duration.ofSeconds(600))
                .withMaxTokens(Math.max(ServeLimits.DEFAULT_MAX_TOKENS, maxTokens)); // the bench's own --max-tokens
        ObjectNode o = Bench.report("serve");
        try (Mm1Backend backend = new Mm1Backend(modelDir, "bench", root.newSubManager(), path, 0,
                io.mm1j.llm.Quantization.NONE, maxBatch, encodeThreads);
             OpenAiServer server = new OpenAiServer(backend, limits, null).start("127.0.0.1", 0)) {
            boolean images = backend.acceptsImages();
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(30)).build();
            URI uri = URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions");
            // warm-up, untimed: the JIT, the kernels and the first image encode, for one client (a sequence decoded
            // alone takes its own path) and for batches, until the JIT compilers are quiet. With one short batch
            // round only, the first timed level ran partly interpreted (1 client: 35 tokens/s, then 140 on a second
            // 1-client level); with 2 + 1 requests the compilers still took over a third of the process's CPU time
            // during the levels, and with a fixed 8 + 8 + 16 requests a fifth at 16 clients 15 s into the run (perf:
            // the server's stack, Jetty, Jackson, Jinjava, ImageIO, compiles for a long time)
            // (rounds go through every level, so each batch size's code is compiled before it is timed)
            level(http, uri, 1, 8, Math.min(maxTokens, 64), images, 1_000_000);
            int rounds = 0;
            long warmStart = System.nanoTime();
            double jitShare;
            int warmSeed = 2_000_000;
            do {
                long jit0 = jitMillis();
                long t0 = System.nanoTime();
                for (int clients : levels) {
                    level(http, uri, clients, 2, Math.min(maxTokens, 64), images, warmSeed);
                    warmSeed += clients * 2;
                }
                jitShare = (jitMillis() - jit0) / ((System.nanoTime() - t0) / 1e6 * CORES);
                rounds++;
            } while (jitShare > WARM_JIT_SHARE && System.nanoTime() - warmStart < warmUpSeconds * 1e9);
            o.put("warmUpRounds", rounds);
            o.put("warmUpJitShare", jitShare); // the compilers' share of the cores in the last warm-up round
            o.put("warmUpSeconds", (System.nanoTime() - warmStart) / 1e9);
            o.put("model", source);
            o.put("path", path.option());
            o.put("maxBatch", maxBatch);
            o.put("encodeThreads", backend.torchThreads()); // libtorch's threads (0: left as they were)
            o.put("imagesPerRequest", images ? 1 : 0);
            o.put("requestsPerClient", requestsPerClient);
            o.put("maxTokensPerRequest", maxTokens);
            o.put("loadAverageBefore", loadBefore);
            ArrayNode out = o.putArray("levels");
            double single = 0;
            double last = 0;
            int seed = 0;
            for (int clients : levels) {
                long cpu0 = cpuNanos();
                long jitAtStart = jitMillis();
                long t0 = System.nanoTime();
                List<Sample>[] perClient = level(http, uri, clients, requestsPerClient, maxTokens, images, seed);
                double wall = (System.nanoTime() - t0) / 1e9;
                seed += clients * requestsPerClient;
                ObjectNode l = out.addObject();
                l.put("clients", clients);
                double[] ttft = Arrays.stream(perClient).flatMap(List::stream).mapToDouble(Sample::ttftMs).sorted()
                        .toArray();
                long tokens = Arrays.stream(perClient).flatMap(List::stream).mapToLong(Sample::tokens).sum();
                double perClientRate = Arrays.stream(perClient).mapToDouble(s -> s.stream().mapToInt(Sample::tokens)
                        .sum() / s.stream().mapToDouble(Sample::seconds).sum()).average().orElse(0);
                l.put("requests", ttft.length);
                l.put("completionTokens", tokens);
                l.put("seconds", wall);
                l.put("ttftP50Ms", percentile(ttft, 50));
                l.put("ttftP95Ms", percentile(ttft, 95));
                l.put("tokensPerSecond", perClientRate);
                l.put("aggregateTokensPerSecond", tokens / wall);
                // CPU time of this process (server and clients) over the level: with the load average it shows how
                // much of the wall time the machine's other work took
                l.put("processCpuSeconds", (cpuNanos() - cpu0) / 1e9);
                l.put("jitSeconds", (jitMillis() - jitAtStart) / 1e3); // of it, the JIT compilers' time
                l.put("loadAverage", load());
                if (clients == 1) {
                    single = tokens / wall;
                }
                if (clients == most) {
                    last = tokens / wall;
                }
            }
            if (single > 0 && most > 1) {
                o.put("aggregateSpeedup", last / single); // the most clients' aggregate over one client's
            }
            o.put("loadAverageAfter", load());
        }
        return PeakRss.addTo(o);
    }

    private static final int CORES = Runtime.getRuntime().availableProcessors();

    /** Warm-up ends when a round's JIT compilation takes at most this share of the cores' time. */
    static final double WARM_JIT_SHARE = 0.03;

    /** Milliseconds the JIT compilers have spent so far (0 where the JVM does not say). */
    private static long jitMillis() {
        java.lang.management.CompilationMXBean c = ManagementFactory.getCompilationMXBean();
        return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() : 0;
    }

    /** The 1-minute load average (other processes share the cores), or -1 where unknown. */
    private static double load() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    /** CPU time of this process so far in nanoseconds, or -1 where unknown. */
    private static long cpuNanos() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
    }

    /** Nearest-rank percentile of sorted values. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    /** {@code clients} threads started together, each sending {@code requests} requests; samples per client. */
    @SuppressWarnings("unchecked")
    private static List<Sample>[] level(HttpClient http, URI uri, int clients, int requests, int maxTokens,
                                        boolean images, int seed) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients, r -> {
            Thread t = new Thread(r, "mm1-bench-client");
            t.setDaemon(true);
            return t;
        });
        try {
            // bodies (and their images) are made before the clients start, so encoding PNGs is not timed
            String[][] bodies = new String[clients][requests];
            for (int c = 0; c < clients; c++) {
                for (int r = 0; r < requests; r++) {
                    bodies[c][r] = body(seed + c * requests + r, maxTokens, images);
                }
            }
            CountDownLatch go = new CountDownLatch(1);
            List<Future<List<Sample>>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                String[] mine = bodies[c];
                futures.add(pool.submit(() -> {
                    go.await();
                    List<Sample> samples = new ArrayList<>();
                    for (String b : mine) {
                        samples.add(request(http, uri, b));
                    }
                    return samples;
                }));
            }
            go.countDown();
            List<Sample>[] out = new List[clients];
            for (int c = 0; c < clients; c++) {
                out[c] = futures.get(c).get();
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static String body(int seed, int maxTokens, boolean images) {
        ObjectNode b = Presets.JSON.createObjectNode();
        b.put("model", "bench");
        b.put("stream", true);
        b.putObject("stream_options").put("include_usage", true);
        b.put("max_tokens", maxTokens);
        b.put("temperature", 1.0);
        b.put("seed", seed);
        ObjectNode msg = b.putArray("messages").addObject();
        msg.put("role", "user");
        String text = "Request " + seed + ": describe what you see, in detail.";
        if (images) {
            ArrayNode parts = msg.putArray("content");
            parts.addObject().put("type", "image_url").putObject("image_url").put("url", png(64, 64, seed));
            parts.addObject().put("type", "text").put("text", text);
        } else {
            msg.put("content", text);
        }
        return b.toString();
    }

    /** A seeded noise image as a PNG data URL. */
    private static String png(int w, int h, int seed) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Random r = new Random(seed);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, r.nextInt(0x1000000));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(out.toByteArray());
    }

    /** One streaming request: time to the first content chunk, completion tokens (from the usage chunk), time. */
    private static Sample request(HttpClient http, URI uri, String body) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(600))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long t0 = System.nanoTime();
        HttpResponse<InputStream> res = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        double ttft = Double.NaN;
        int tokens = -1;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
            if (res.statusCode() != 200) {
                throw new Mm1Exception("bench serve: the server answered " + res.statusCode() + ": "
                        + in.lines().reduce("", String::concat));
            }
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                    continue;
                }
                JsonNode chunk = Presets.JSON.readTree(line.substring(6));
                if (chunk.has("error")) {
                    throw new Mm1Exception("bench serve: the stream failed: " + chunk.get("error"));
                }
                JsonNode choices = chunk.path("choices");
                if (Double.isNaN(ttft) && choices.size() > 0
                        && !choices.get(0).path("delta").path("content").asText("").isEmpty()) {
                    ttft = (System.nanoTime() - t0) / 1e6;
                }
                if (chunk.hasNonNull("usage")) {
                    tokens = chunk.get("usage").get("completion_tokens").asInt();
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (tokens < 0) {
            throw new Mm1Exception("bench serve: a stream ended without its usage chunk");
        }
        return new Sample(Double.isNaN(ttft) ? seconds * 1e3 : ttft, tokens, seconds);
    }
}
