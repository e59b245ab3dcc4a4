package io.mm1j.serve;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The server's counters, rendered in Prometheus' text exposition format 0.0.4 for {@code GET /metrics}: requests by
 * endpoint and status, prompt/image/completion tokens, queue depth, and latency histograms (whole request, time in
 * the queue, time to first token).
 */
public final class ServerMetrics {
    /** Seconds; CPU generation spans milliseconds (tiny models) to minutes (long answers from large ones). */
    private static final double[] BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder imageTokens = new LongAdder();
    private final LongAdder completionTokens = new LongAdder();
    private final LongAdder cancelled = new LongAdder();
    private final AtomicLong inFlight = new AtomicLong();
    private final Map<String, Histogram> duration = new ConcurrentHashMap<>();
    private final Histogram queueWait = new Histogram();
    private final Histogram firstToken = new Histogram();
    private volatile LongSupplier queueDepth = () -> 0;
    private volatile int queueCapacity;
    private volatile ChatBackend backend;

    /** One finished request: its endpoint (route path), HTTP status and wall time. */
    public void request(String endpoint, int status, double seconds) {
        requests.computeIfAbsent(label("endpoint", endpoint) + "," + label("status", String.valueOf(status)),
                k -> new LongAdder()).increment();
        duration.computeIfAbsent(endpoint, k -> new Histogram()).observe(seconds);
    }

    public void tokens(Completion c) {
        promptTokens.add(c.promptTokens());
        imageTokens.add(c.imageTokens());
        completionTokens.add(c.completionTokens());
        if ("cancelled".equals(c.finishReason())) {
            cancelled.increment();
        }
    }

    public void queueWait(double seconds) {
        queueWait.observe(seconds);
    }

    public void firstToken(double seconds) {
        firstToken.observe(seconds);
    }

    public void inFlight(int delta) {
        inFlight.addAndGet(delta);
    }

    void queue(LongSupplier depth, int capacity) {
        this.queueDepth = depth;
        this.queueCapacity = capacity;
    }

    void backend(ChatBackend b) {
        this.backend = b;
    }

    /** The exposition text. */
    public String render() {
        StringBuilder sb = new StringBuilder();
        header(sb, "mm1_requests_total", "counter", "HTTP requests by endpoint and status.");
        new TreeMap<>(requests).forEach((labels, n) -> sb.append("mm1_requests_total{").append(labels).append("} ")
                .append(n.sum()).append('\n'));
        counter(sb, "mm1_prompt_tokens_total", "Prompt tokens processed (image tokens included).", promptTokens.sum());
        counter(sb, "mm1_image_tokens_total", "Image tokens among the prompt tokens.", imageTokens.sum());
        counter(sb, "mm1_completion_tokens_total", "Tokens generated.", completionTokens.sum());
        counter(sb, "mm1_generations_cancelled_total", "Generations stopped early (client gone or timeout).",
                cancelled.sum());
        gauge(sb, "mm1_queue_depth", "Requests waiting for the generation worker.", queueDepth.getAsLong());
        gauge(sb, "mm1_queue_capacity", "Requests that may wait before new ones get 429.", queueCapacity);
        gauge(sb, "mm1_requests_in_flight", "Generation requests accepted and not finished.", inFlight.get());
        ChatBackend b = backend;
        if (b != null && b.batches()) {
            gauge(sb, "mm1_batch_running", "Requests decoding together now (continuous batching).", b.running());
            gauge(sb, "mm1_batch_capacity", "Requests that may decode together (--max-batch).", b.batchSize());
        }
        long[] cache = b == null ? null : b.imageCacheStats();
        if (cache != null) {
            counter(sb, "mm1_image_cache_hits_total", "Images whose encoding came from the cache.", cache[0]);
            counter(sb, "mm1_image_cache_misses_total", "Images run through the vision encoder.", cache[1]);
            gauge(sb, "mm1_image_cache_entries", "Encoded images held.", cache[2]);
        }
        header(sb, "mm1_request_duration_seconds", "histogram", "Wall time of a request, by endpoint.");
        new TreeMap<>(duration).forEach((ep, h) -> h.render(sb, "mm1_request_duration_seconds",
                label("endpoint", ep)));
        header(sb, "mm1_queue_wait_seconds", "histogram", "Time a generation request waited for the worker.");
        queueWait.render(sb, "mm1_queue_wait_seconds", "");
        header(sb, "mm1_time_to_first_token_seconds", "histogram", "From arrival to the first generated token.");
        firstToken.render(sb, "mm1_time_to_first_token_seconds", "");
        return sb.toString();
    }

    private static void header(StringBuilder sb, String name, String type, String help) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void counter(StringBuilder sb, String name, String help, long v) {
        header(sb, name, "counter", help);
        sb.append(name).append(' ').append(v).append('\n');
    }

    private static void gauge(StringBuilder sb, String name, String help, long v) {
        header(sb, name, "gauge", help);
        sb.append(name).append(' ').append(v).append('\n');
    }

    /** {@code name="value"} with the exposition format's escapes. */
    static String label(String name, String value) {
        return name + "=\"" + value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }

    /** A cumulative histogram over {@link #BUCKETS}. */
    static final class Histogram {
        private final LongAdder[] counts = new LongAdder[BUCKETS.length];
        private final LongAdder count = new LongAdder();
        private final DoubleAdder sum = new DoubleAdder();

        Histogram() {
            for (int i = 0; i < counts.length; i++) {
                counts[i] = new LongAdder();
            }
        }

        void observe(double seconds) {
            for (int i = 0; i < BUCKETS.length; i++) {
                if (seconds <= BUCKETS[i]) {
                    counts[i].increment();
                    break;
                }
            }
            count.increment();
            sum.add(seconds);
        }

        void render(StringBuilder sb, String name, String labels) {
            String sep = labels.isEmpty() ? "" : labels + ",";
            long cumulative = 0;
            for (int i = 0; i < BUCKETS.length; i++) {
                cumulative += counts[i].sum();
                sb.append(name).append("_bucket{").append(sep).append("le=\"").append(BUCKETS[i]).append("\"} ")
                        .append(cumulative).append('\n');
            }
            long n = count.sum();
            sb.append(name).append("_bucket{").append(sep).append("le=\"+Inf\"} ").append(n).append('\n');
            String braces = labels.isEmpty() ? "" : "{" + labels + "}";
            sb.append(name).append("_sum").append(braces).append(' ').append(sum.sum()).append('\n');
            sb.append(name).append("_count").append(braces).append(' ').append(n).append('\n');
        }
    }
}
