package io.mm1j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.staticfiles.Location;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OpenAI-compatible HTTP server over one {@link ChatBackend}: {@code GET /v1/models}, {@code POST
 * /v1/chat/completions} (text and image parts, streaming as server-sent events), the legacy {@code POST
 * /v1/completions}, {@code GET /health}, {@code GET /metrics} (Prometheus) and a chat page at {@code /}.
 *
 * <p>Every client mistake is answered in OpenAI's error shape with its status (400 invalid, 401 bad key, 404 unknown
 * model or path, 413 too large, 415 not JSON, 429 queue full, 503 timeout or shutting down); a 500 means a server
 * fault. Request
 * threads validate and wait; one worker generates, or the backend batches concurrent requests
 * ({@link GenerationQueue}).
 */
public final class OpenAiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OpenAiServer.class);
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    /** An SSE comment line (the spec has clients ignore it): a stream's probe. */
    private static final byte[] COMMENT = ":\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final SecureRandom IDS = new SecureRandom();

    private final ChatBackend backend;
    private final ServeLimits limits;
    private final byte[] apiKey;
    private final ServerMetrics metrics = new ServerMetrics();
    private final GenerationQueue queue;
    private final RequestParser parser;
    private final Semaphore admission;
    private final long created = System.currentTimeMillis() / 1000;
    private volatile boolean closing;
    private final java.util.concurrent.atomic.AtomicInteger active = new java.util.concurrent.atomic.AtomicInteger();
    private Javalin app;

    /** @param apiKey the key clients must send as {@code Authorization: Bearer KEY}, or null for none */
    public OpenAiServer(ChatBackend backend, ServeLimits limits, String apiKey) {
        if (apiKey != null && apiKey.isBlank()) {
            throw new Mm1Exception("--api-key must not be blank");
        }
        this.backend = backend;
        this.limits = limits;
        this.apiKey = apiKey == null ? null : apiKey.getBytes(StandardCharsets.UTF_8);
        this.queue = new GenerationQueue(backend, limits.queueSize(), metrics);
        this.parser = new RequestParser(limits, backend.acceptsImages());
        this.admission = new Semaphore(limits.queueSize() + backend.batchSize());
        metrics.backend(backend);
    }

    /** Binds {@code host:port} (port 0 = any free port) and starts serving. */
    public OpenAiServer start(String host, int port) {
        app = Javalin.create(cfg -> {
            cfg.startup.showJavalinBanner = false;
            cfg.startup.showOldJavalinVersionWarning = false;
            cfg.http.maxRequestSize = limits.maxBodyBytes();
            // a stop waits (up to 5 s) for responses being written instead of closing their connections
            cfg.jetty.modifyServer(server -> {
                server.setStopTimeout(5000);
                server.insertHandler(new org.eclipse.jetty.server.handler.GracefulHandler());
                server.setErrorHandler(new JsonErrorHandler()); // framing errors Jetty answers itself: JSON, not HTML
            });
            cfg.staticFiles.add(sf -> {
                sf.hostedPath = "/";
                sf.directory = "/web";
                sf.location = Location.CLASSPATH;
            });
            io.javalin.http.Handler health = ctx -> api(ctx, "/health", false, this::health);
            io.javalin.http.Handler metricsPage = ctx -> api(ctx, "/metrics", true, c -> c.contentType(
                    "text/plain; version=0.0.4; charset=utf-8").result(metrics.render()));
            io.javalin.http.Handler models = ctx -> api(ctx, "/v1/models", true,
                    c -> json(c, 200, OpenAiJson.models(backend.modelId(), created)));
            io.javalin.http.Handler model = ctx -> api(ctx, "/v1/models/{id}", true, this::model);
            cfg.routes.get("/health", health);
            cfg.routes.get("/metrics", metricsPage);
            cfg.routes.get("/v1/models", models);
            cfg.routes.get("/v1/models/{id}", model);
            // HEAD runs the same checks (key, model name) as GET; Jetty sends the headers only
            cfg.routes.head("/health", health);
            cfg.routes.head("/metrics", metricsPage);
            cfg.routes.head("/v1/models", models);
            cfg.routes.head("/v1/models/{id}", model);
            cfg.routes.post("/v1/chat/completions", ctx -> api(ctx, "/v1/chat/completions", true,
                    c -> complete(c, true)));
            cfg.routes.post("/v1/completions", ctx -> api(ctx, "/v1/completions", true, c -> complete(c, false)));
            cfg.routes.error(404, ctx -> {
                if (ctx.attribute("mm1.json") == null) { // not one of ours (e.g. unknown model): no route matched
                    json(ctx, 404, OpenAiJson.error("Unknown request URL: " + ctx.method() + " " + ctx.path(),
                            "invalid_request_error", null, "unknown_url"));
                }
            });
        });
        app.start(host, port);
        return this;
    }

    /** The bound port. */
    public int port() {
        return app.port();
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** Generation requests admitted and not yet answered (their request threads still running). */
    public int active() {
        return active.get();
    }

    /**
     * Generation requests admitted and not yet answered, by where they are.
     *
     * @param running   generating now
     * @param queued    waiting for the model (their generation has not started)
     * @param receiving admitted but not yet queued: their bodies are still being read or checked
     */
    public record InFlight(int running, int queued, int receiving) {
        public int total() {
            return running + queued + receiving;
        }

        /** "2 running, 1 queued" (and ", 1 being received" when some are). */
        @Override
        public String toString() {
            return running + " running, " + queued + " queued" + (receiving > 0 ? ", " + receiving
                    + " being received" : "");
        }
    }

    /** {@link #active()} split by where the requests are (a snapshot: the parts are counted one after another). */
    public InFlight inFlight() {
        int running = queue.running();
        int queued = queue.queued();
        return new InFlight(running, queued, Math.max(0, active.get() - running - queued));
    }

    /**
     * A graceful stop: new generation requests get a 503 {@code shutting_down} (and {@code /health} says so) while
     * the admitted ones run on for up to {@code grace}; those still running then are stopped at their next token and
     * answered with a 503 {@code shutting_down} (a stream: an error event and {@code data: [DONE]}), and the server
     * closes. Returns the requests that had to be cut short, running and queued.
     */
    public InFlight drain(java.time.Duration grace) {
        closing = true;
        waitIdle(System.nanoTime() + grace.toNanos());
        InFlight cut = active.get() > 0 ? inFlight() : new InFlight(0, 0, 0);
        if (cut.total() > 0) {
            queue.stopAccepting(); // a request still uploading its body gets a 503 when it submits
            queue.cancelAll("shutdown");
            waitIdle(System.nanoTime() + TimeUnit.SECONDS.toNanos(5)); // their threads write the endings
        }
        close();
        return cut;
    }

    private void waitIdle(long deadline) {
        while (active.get() > 0 && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        closing = true;
        queue.close();
        if (app != null) {
            app.stop();
        }
    }

    @FunctionalInterface
    private interface Handler {
        void handle(Context ctx) throws IOException;
    }

    /** Authentication, error mapping and metrics around one endpoint. */
    private void api(Context ctx, String endpoint, boolean needsKey, Handler h) {
        long t0 = System.nanoTime();
        try {
            if (needsKey) {
                authenticate(ctx);
            }
            h.handle(ctx);
        } catch (ApiException e) {
            if (e.status() == 401) {
                ctx.header("WWW-Authenticate", "Bearer");
            }
            if (e.status() == 429) {
                ctx.header("Retry-After", "1");
            }
            json(ctx, e.status(), OpenAiJson.error(e));
            if (e.status() != 401) { // an unauthenticated client gets no server time beyond its answer
                answerThenDrain(ctx);
            }
        } catch (Exception e) {
            LOG.error("{} {} failed", ctx.method(), ctx.path(), e);
            json(ctx, 500, OpenAiJson.error("internal server error: " + e, "server_error", null, "internal_error"));
        } finally {
            Integer status = ctx.attribute("mm1.status");
            metrics.request(endpoint, status != null ? status : ctx.status().getCode(),
                    (System.nanoTime() - t0) / 1e9);
        }
    }

    /** Bytes of a refused body read and dropped after the answer (see {@link #answerThenDrain}). */
    static final long DRAIN_LIMIT = 64L << 20;
    private static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** A drained connection's idle timeout: a client that stops sending frees its thread after this. */
    private static final long DRAIN_IDLE_MILLIS = 2000;
    /** At most this many refused bodies are drained at once; beyond it the connection is just closed. */
    private final Semaphore draining = new Semaphore(8);

    /**
     * Sends a refusal now and then reads and drops the unread request body (at most {@link #DRAIN_LIMIT} bytes, for
     * about 10 s, a stalled client 2 s, at most 8 at once). A client sends its whole body before it reads the reply;
     * a server that closes on unread bytes makes TCP reset the connection, and the client may then see a broken
     * connection instead of the 413 or 429 ("lingering close", as nginx does). A client that sent
     * {@code Expect: 100-continue} and whose body was never asked for has not sent it: nothing to drain.
     */
    private void answerThenDrain(Context ctx) {
        jakarta.servlet.http.HttpServletRequest req = ctx.req();
        boolean hasBody = req.getContentLengthLong() > 0 || req.getHeader("Transfer-Encoding") != null;
        boolean sent = ctx.attribute("mm1.bodyStarted") != null || req.getHeader("Expect") == null;
        if (!hasBody || ctx.attribute("mm1.bodyRead") != null || !sent || !draining.tryAcquire()) {
            return;
        }
        try {
            byte[] out = ctx.resultInputStream() == null ? new byte[0] : ctx.resultInputStream().readAllBytes();
            ctx.result(new byte[0]);
            jakarta.servlet.http.HttpServletResponse res = ctx.res();
            res.setContentLength(out.length);
            res.getOutputStream().write(out);
            res.flushBuffer();
            org.eclipse.jetty.server.Request core = ServletContextRequest.getServletContextRequest(req);
            if (core != null) { // one blocked read may not hold the thread for Jetty's 30 s
                core.getConnectionMetaData().getConnection().getEndPoint().setIdleTimeout(DRAIN_IDLE_MILLIS);
            }
            InputStream in = req.getInputStream();
            byte[] sink = new byte[64 * 1024];
            long left = DRAIN_LIMIT;
            long deadline = System.nanoTime() + DRAIN_NANOS;
            int n;
            while (left > 0 && System.nanoTime() < deadline
                    && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) >= 0) {
                left -= n;
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("draining a refused body of {} {}: {}", ctx.method(), ctx.path(), e.toString());
        } finally {
            draining.release();
        }
    }

    private void authenticate(Context ctx) {
        if (apiKey == null) {
            return;
        }
        String auth = ctx.header("Authorization");
        if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", "You didn't provide an "
                    + "API key. Send it as 'Authorization: Bearer KEY' (the server was started with --api-key).");
        }
        byte[] given = auth.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(given, apiKey)) { // constant time: no key recovery by timing
            throw new ApiException(401, "invalid_request_error", null, "invalid_api_key",
                    "Incorrect API key provided.");
        }
    }

    private void health(Context ctx) {
        ObjectNode h = RequestParser.JSON.createObjectNode();
        h.put("status", closing ? "shutting_down" : "ok");
        h.put("model", backend.modelId());
        h.put("queue_depth", queue.depth());
        h.put("queue_capacity", limits.queueSize());
        json(ctx, closing ? 503 : 200, h);
    }

    private void model(Context ctx) {
        String id = ctx.pathParam("id");
        if (!id.equals(backend.modelId())) {
            throw unknownModel(id);
        }
        json(ctx, 200, OpenAiJson.model(id, created));
    }

    private ApiException unknownModel(String id) {
        return new ApiException(404, "invalid_request_error", "model", "model_not_found", "The model '" + id
                + "' does not exist; this server serves '" + backend.modelId() + "'");
    }

    private static void json(Context ctx, int status, JsonNode body) {
        try {
            ctx.attribute("mm1.json", Boolean.TRUE);
            ctx.status(status).contentType("application/json").result(RequestParser.JSON.writeValueAsBytes(body));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize a response", e);
        }
    }

    /**
     * The body, refused with a 413 beyond {@code maxBodyBytes} (by Content-Length first, else while reading). It must
     * be declared JSON: a web page on another origin can only send a JSON POST after a CORS preflight, which this
     * server does not grant, so a page the user visits cannot make the local server generate (CSRF).
     */
    private byte[] body(Context ctx) throws IOException {
        String type = ctx.req().getContentType();
        String mime = type == null ? "" : type.split(";", 2)[0].trim().toLowerCase(java.util.Locale.ROOT);
        if (!mime.equals("application/json")) {
            throw new ApiException(415, "invalid_request_error", null, "unsupported_media_type", "the request body "
                    + "must be sent as 'Content-Type: application/json'" + (type == null ? "" : ", got '" + type
                    + "'"));
        }
        long declared = ctx.req().getContentLengthLong();
        long max = limits.maxBodyBytes();
        if (declared > max) {
            throw ApiException.tooLarge(null, "request_too_large", "the request body is " + declared + " bytes; "
                    + "this server accepts at most " + max + " (--max-body-bytes)");
        }
        InputStream in = ctx.req().getInputStream(); // not closed: the container owns it, and may drain it
        ctx.attribute("mm1.bodyStarted", Boolean.TRUE); // asked for: a 100-continue client now sends it
        byte[] b;
        try {
            b = in.readNBytes((int) max + 1);
        } catch (IOException e) { // the client closed or reset the connection part way (Jetty: EofException)
            ctx.attribute("mm1.bodyRead", Boolean.TRUE); // nothing left to drain
            // Jetty reports a malformed chunk (a size that is not hex) as the same early end
            throw new ApiException(400, "invalid_request_error", null, "incomplete_body", declared >= 0
                    ? "the request body ended before its declared Content-Length of " + declared + " bytes: the "
                    + "connection was closed part way" : "the chunked request body ended early (the connection was "
                    + "closed part way) or its chunk framing is malformed");
        }
        if (b.length > max) {
            throw ApiException.tooLarge(null, "request_too_large", "the request body is larger than " + max
                    + " bytes (--max-body-bytes)");
        }
        ctx.attribute("mm1.bodyRead", Boolean.TRUE);
        return b;
    }

    private void complete(Context ctx, boolean chat) throws IOException {
        long arrived = System.nanoTime();
        active.incrementAndGet(); // before the closing check: a drain that sets closing then sees this request
        try {
            if (closing) {
                throw shuttingDown();
            }
            // Admission before the body is read: at most queue + batch generation requests hold bodies and images.
            if (!admission.tryAcquire()) {
                throw queue.full();
            }
            try {
                admitted(ctx, chat, arrived);
            } finally {
                admission.release();
            }
        } finally {
            active.decrementAndGet();
        }
    }

    private static ApiException shuttingDown() {
        return new ApiException(503, "server_error", null, "shutting_down", "the server is shutting down");
    }

    /**
     * The error for a job the server stopped (deadline passed, or shutting down), or null when it ran its course (a
     * generation that finished just as it was told to stop keeps its answer).
     */
    private ApiException stoppedBy(GenerationQueue.Job job, Completion c) {
        if (c != null && !"cancelled".equals(c.finishReason())) {
            return null;
        }
        String why = job.cancelReason();
        return "timeout".equals(why) ? timeout() : "shutdown".equals(why) ? shuttingDown() : null;
    }

    private void admitted(Context ctx, boolean chat, long arrived) throws IOException {
        JsonNode json = RequestParser.json(body(ctx));
        JsonNode model = json.get("model");
        if (model != null && model.isTextual() && !model.asText().equals(backend.modelId())) {
            throw unknownModel(model.asText());
        }
        CompletionRequest req = chat ? parser.chat(json) : parser.text(json);
        int maxTokens = budget(req);
        GenerationQueue.Job job = queue.new Job(req.prompt(), req.sampling(), maxTokens, arrived,
                arrived + limits.requestTimeout().toNanos());
        queue.submit(job);
        metrics.inFlight(1);
        String id = (chat ? "chatcmpl-" : "cmpl-") + newId();
        // watched from now on: a client that goes away stops its generation, during the prefill too
        DisconnectWatch watch = DisconnectWatch.start(ctx.req(), job);
        try {
            long createdAt = System.currentTimeMillis() / 1000;
            if (req.stream()) {
                stream(ctx, req, job, id, createdAt);
            } else {
                answer(ctx, req, job, id, createdAt);
            }
        } finally {
            if (watch != null) {
                watch.stop(); // before the answer completes: the connection stays open for the client's next request
            }
            metrics.inFlight(-1);
            // seen by a failed write or by the watch; logged once per request
            if (ctx.attribute("mm1.clientGone") != null || "client".equals(job.cancelReason())) {
                ctx.attribute("mm1.status", 499);
                LOG.info("{}: client disconnected after {} generated token(s); its generation was stopped", id,
                        job.tokens());
            }
        }
    }

    /**
     * A non-streaming answer: the whole completion as one JSON body. It is normally sent only when complete (so an
     * error still gets its status); for a client that sent end-of-stream the status and headers go out with the
     * first probe ({@link #whole}), and the body follows them.
     */
    private void answer(Context ctx, CompletionRequest req, GenerationQueue.Job job, String id, long createdAt) {
        try {
            Completion c;
            try {
                c = whole(ctx, job);
                if ("client".equals(job.cancelReason())) {
                    return; // the watch saw the client leave: nobody to answer (admitted() logs it as a 499)
                }
            } catch (ApiException e) {
                if (!ctx.res().isCommitted()) {
                    throw e;
                }
                ctx.attribute("mm1.status", e.status()); // too late for the status line: the body says it
                write(ctx, OpenAiJson.error(e));
                return;
            }
            JsonNode body = req.chat() ? OpenAiJson.chatCompletion(id, createdAt, req.model(), c)
                    : OpenAiJson.textCompletion(id, createdAt, req.model(), c.text(), c.finishReason(), c);
            if (ctx.res().isCommitted()) {
                write(ctx, body);
            } else {
                json(ctx, 200, body);
            }
        } catch (IOException gone) {
            clientGone(ctx, job, gone);
        }
    }

    private static void write(Context ctx, JsonNode body) throws IOException {
        OutputStream out = ctx.res().getOutputStream();
        out.write(RequestParser.JSON.writeValueAsBytes(body));
        out.flush();
    }

    /**
     * A write to the client failed: it closed the connection. {@link #admitted} then counts the request as a 499
     * (nginx's "client closed request") and logs it.
     */
    private void clientGone(Context ctx, GenerationQueue.Job job, IOException gone) {
        ctx.attribute("mm1.clientGone", Boolean.TRUE); // the job may have been stopped before, for another reason
        job.cancel("client");
        queue.remove(job); // one still waiting never starts
        LOG.debug("client gone: {}", gone.toString());
    }

    /** Sets the connectors' idle timeout (Jetty's default is 30 s); a blocked request is not cut by it. */
    void idleTimeout(java.time.Duration timeout) {
        for (org.eclipse.jetty.server.Connector c : app.jettyServer().server().getConnectors()) {
            if (c instanceof org.eclipse.jetty.server.AbstractConnector a) {
                a.setIdleTimeout(timeout.toMillis());
            }
        }
    }

    private static String newId() {
        byte[] b = new byte[12];
        IDS.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /**
     * Completion tokens for this request: what it asked for or the server's default, within the context left after
     * the prompt; a prompt that does not fit is a 400 with OpenAI's {@code context_length_exceeded}. A prompt whose
     * length alone shows that it cannot fit ({@link ChatBackend#minPromptTokens}) is refused before it is tokenised:
     * megabytes of text would take seconds of CPU to count.
     */
    private int budget(CompletionRequest req) {
        int context = backend.contextLength();
        Integer asked = req.sampling().maxTokens();
        int completion = asked == null ? 1 : asked;
        int atLeast = promptTokens(req, backend::minPromptTokens);
        if (atLeast > limits.maxPromptTokens() || atLeast > context - completion) {
            throw tooLong(req, atLeast, true, completion, context);
        }
        int prompt = promptTokens(req, backend::countPromptTokens);
        if (prompt > limits.maxPromptTokens() || prompt > context - completion) {
            throw tooLong(req, prompt, false, completion, context);
        }
        return asked != null ? asked : Math.min(limits.maxTokens(), context - prompt);
    }

    private int promptTokens(CompletionRequest req, java.util.function.ToIntFunction<ChatBackend.Input> count) {
        try {
            return count.applyAsInt(req.prompt());
        } catch (ApiException e) {
            throw e;
        } catch (Mm1Exception e) {
            throw ApiException.invalid(req.chat() ? "messages" : "prompt", e.getMessage());
        }
    }

    /**
     * The 400 for a prompt that does not fit: it takes {@code prompt} tokens, or at least that many when
     * {@code bound} (it was not tokenised).
     */
    private ApiException tooLong(CompletionRequest req, int prompt, boolean bound, int completion, int context) {
        String field = req.chat() ? "messages" : "prompt";
        String atLeast = bound ? "at least " : "";
        if (prompt > limits.maxPromptTokens()) {
            return ApiException.invalid(field, "context_length_exceeded", "the prompt takes " + atLeast + prompt
                    + " tokens; this server accepts at most " + limits.maxPromptTokens() + " (--max-prompt-tokens)");
        }
        return ApiException.invalid(field, "context_length_exceeded", "This model's maximum context length is "
                + context + " tokens. However, you requested " + atLeast + ((long) prompt + completion) + " tokens ("
                + atLeast + prompt + " in the " + field + ", " + completion + " in the completion). Please reduce "
                + "the length of the " + field + " or completion.");
    }

    /** The next event of {@code job}, waiting at most {@code nanos} (then null). */
    private static GenerationQueue.Event next(GenerationQueue.Job job, long nanos) {
        try {
            return job.events.poll(Math.max(0, nanos), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) { // Jetty stops its threads: the server is going down
            Thread.currentThread().interrupt();
            job.cancel("shutdown");
            throw shuttingDown();
        }
    }

    /**
     * The next generation event; past the job's deadline the client gets a 503 at once: a job still queued is
     * dropped, a running one is told to stop (it stops at its next token). Once the client has sent end-of-stream,
     * {@code probe} writes every {@link DisconnectWatch#PROBE_MILLIS}: a client that only half-closed reads on, one
     * that closed makes a probe fail (an IOException: the caller stops the job).
     */
    private GenerationQueue.Event nextOrTimeout(GenerationQueue.Job job, DisconnectWatch.Probe probe)
            throws IOException {
        while (true) {
            long untilProbe = probe.poke(job);
            GenerationQueue.Event e = next(job, Math.min(job.deadlineNanos - System.nanoTime(), untilProbe));
            if (e != null && !(e instanceof GenerationQueue.ClientEof)) {
                return e;
            }
            if (e == null && System.nanoTime() - job.deadlineNanos >= 0) {
                job.cancel("timeout");
                queue.remove(job);
                throw timeout();
            }
        }
    }

    private ApiException timeout() {
        return new ApiException(503, "server_error", null, "timeout", "the request did not finish within "
                + limits.requestTimeout().toSeconds() + " s (--request-timeout); retry, or ask for fewer tokens");
    }

    /**
     * The job's completion. A client that sent end-of-stream is probed with spaces (a JSON body may start with
     * whitespace), the first of which commits a 200 with the JSON content type: an error after that can only be told
     * in the body ({@link #answer}).
     */
    private Completion whole(Context ctx, GenerationQueue.Job job) throws IOException {
        DisconnectWatch.Probe probe = new DisconnectWatch.Probe(() -> {
            if (!ctx.res().isCommitted()) {
                ctx.status(200);
                ctx.res().setContentType("application/json");
            }
            OutputStream out = ctx.res().getOutputStream();
            out.write(' ');
            out.flush();
        });
        while (true) {
            GenerationQueue.Event e = nextOrTimeout(job, probe);
            if (e instanceof GenerationQueue.Done d) {
                ApiException stopped = stoppedBy(job, d.completion());
                if (stopped != null) {
                    throw stopped;
                }
                return d.completion();
            }
            if (e instanceof GenerationQueue.Failed f) {
                throw f.error();
            }
        }
    }

    /**
     * Server-sent events in OpenAI's shape: a first chunk with the role, one chunk per text delta, a chunk with the
     * finish reason, the usage chunk if asked for, then {@code data: [DONE]}. The status and headers go out at once
     * (the client sees its answer begin before the prefill ends); an error after that is an error event. A client
     * that sent end-of-stream is probed with SSE comments, which event-stream parsers skip.
     */
    private void stream(Context ctx, CompletionRequest req, GenerationQueue.Job job, String id, long createdAt) {
        GenerationQueue.Event e = job.events.poll(); // refused when submitted: still a plain error answer
        if (e instanceof GenerationQueue.Failed f) {
            throw f.error();
        }
        ctx.status(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no");
        String model = req.model();
        boolean chat = req.chat();
        boolean usageNull = req.includeUsage();
        try {
            OutputStream out = ctx.res().getOutputStream();
            if (chat) {
                send(out, OpenAiJson.chatChunk(id, createdAt, model, "assistant", "", null, usageNull));
            } else {
                out.flush(); // the headers
            }
            DisconnectWatch.Probe probe = new DisconnectWatch.Probe(() -> {
                out.write(COMMENT);
                out.flush();
            });
            while (true) {
                if (e == null || e instanceof GenerationQueue.ClientEof) {
                    GenerationQueue.Event ready = job.events.poll();
                    if (ready != null && !(ready instanceof GenerationQueue.ClientEof)) {
                        e = ready; // tokens that came while this thread wrote go out in one write
                    } else {
                        out.flush(); // what was written goes out before this thread waits
                        try {
                            e = nextOrTimeout(job, probe);
                        } catch (ApiException timeout) {
                            send(out, OpenAiJson.error(timeout));
                            out.write(DONE);
                            out.flush();
                            return;
                        }
                    }
                }
                if (e instanceof GenerationQueue.Delta d) {
                    event(out, chat ? OpenAiJson.chatChunk(id, createdAt, model, null, d.text(), null, usageNull)
                            : OpenAiJson.textCompletion(id, createdAt, model, d.text(), null, null));
                } else if (e instanceof GenerationQueue.Done d) {
                    Completion c = d.completion();
                    ApiException stopped = stoppedBy(job, c);
                    if (stopped != null) {
                        send(out, OpenAiJson.error(stopped));
                    } else {
                        send(out, chat ? OpenAiJson.chatChunk(id, createdAt, model, null, null, c.finishReason(),
                                usageNull) : OpenAiJson.textCompletion(id, createdAt, model, "", c.finishReason(),
                                null));
                        if (req.includeUsage()) {
                            send(out, OpenAiJson.usageChunk(id, createdAt, model, chat, c));
                        }
                    }
                    out.write(DONE);
                    out.flush();
                    return;
                } else if (e instanceof GenerationQueue.Failed f) {
                    RuntimeException err = f.error();
                    send(out, err instanceof ApiException a ? OpenAiJson.error(a) : OpenAiJson.error(
                            "generation failed: " + err, "server_error", null, "internal_error"));
                    out.write(DONE);
                    out.flush();
                    return;
                }
                e = null;
            }
        } catch (IOException gone) {
            clientGone(ctx, job, gone);
        }
    }

    /** One event, flushed. */
    private static void send(OutputStream out, JsonNode chunk) throws IOException {
        event(out, chunk);
        out.flush();
    }

    /**
     * One event, left in the response buffer: under load a request thread finds several tokens waiting and flushes
     * them together (one write, one wake-up of the client), as soon as none is left.
     */
    private static void event(OutputStream out, JsonNode chunk) throws IOException {
        out.write(DATA);
        out.write(RequestParser.JSON.writeValueAsBytes(chunk));
        out.write(END_OF_EVENT);
    }

    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] END_OF_EVENT = "\n\n".getBytes(StandardCharsets.US_ASCII);
}
