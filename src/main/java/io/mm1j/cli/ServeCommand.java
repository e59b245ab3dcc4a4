package io.mm1j.cli;

import io.mm1j.Mm1Exception;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Quantization;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.serve.Mm1Backend;
import io.mm1j.serve.OpenAiServer;
import io.mm1j.serve.ServeLimits;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 serve}: an OpenAI-compatible HTTP server (and a chat page) for one model folder. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a model folder over an OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions "
                + "(text and image parts, stream=true as server-sent events), POST /v1/completions, GET /health, "
                + "GET /metrics (Prometheus), and a chat page at /. Point an OpenAI client at http://HOST:PORT/v1.")
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model folder (or a run folder: its model/).")
    Path model;

    @Option(names = "--model-name", description = "The id clients send as 'model' (default: the folder's name).")
    String modelName;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default ${DEFAULT-VALUE}: "
            + "this machine only; 0.0.0.0 exposes the server to the network, so set --api-key too).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port (default ${DEFAULT-VALUE}; 0 = any free).")
    int port;

    @Option(names = "--api-key", defaultValue = "${env:MM1_API_KEY}", description = "Require 'Authorization: Bearer "
            + "KEY' on /v1 and /metrics (default: $MM1_API_KEY, which keeps the key out of the process list; "
            + "unset = no key).")
    String apiKey;

    @Option(names = "--allow-remote-images", description = "Fetch http(s):// image URLs (off: only data: URLs, so "
            + "clients cannot make the server request internal addresses).")
    boolean allowRemoteImages;

    @Option(names = "--max-body-bytes", defaultValue = "" + ServeLimits.DEFAULT_MAX_BODY_BYTES,
            description = "Largest request body (default ${DEFAULT-VALUE}); larger gets 413.")
    long maxBodyBytes;

    @Option(names = "--max-images", defaultValue = "" + ServeLimits.DEFAULT_MAX_IMAGES,
            description = "Images per request (default ${DEFAULT-VALUE}).")
    int maxImages;

    @Option(names = "--max-image-pixels", defaultValue = "" + ServeLimits.DEFAULT_MAX_IMAGE_PIXELS,
            description = "Largest width x height an image header may claim, checked before decoding (default "
                    + "${DEFAULT-VALUE}); larger gets 413.")
    long maxImagePixels;

    @Option(names = "--max-prompt-tokens", description = "Prompt tokens accepted, images included (default: the "
            + "model's context; more than the context is refused).")
    Integer maxPromptTokens;

    @Option(names = "--max-tokens", description = "Most tokens a request may ask to generate, and the default when "
            + "it does not say (default " + ServeLimits.DEFAULT_MAX_TOKENS + ", lowered to the model's context; an "
            + "explicit value beyond the context is refused).")
    Integer maxTokens;

    @Option(names = "--queue-size", defaultValue = "" + ServeLimits.DEFAULT_QUEUE_SIZE,
            description = "Requests that may wait for the model (default ${DEFAULT-VALUE}); beyond it 429.")
    int queueSize;

    @Option(names = "--request-timeout", defaultValue = "300", description = "Seconds from arrival to the last "
            + "token (default ${DEFAULT-VALUE}); past it 503, and the generation stops.")
    long requestTimeoutSeconds;

    @Option(names = "--shutdown-grace", defaultValue = "25", description = "On SIGTERM / Ctrl-C, seconds the "
            + "running requests get to finish while new ones are refused with 503; those still running then end "
            + "with a 503 shutting_down (streams: an error event) (default ${DEFAULT-VALUE}; 0 = at once).")
    long shutdownGraceSeconds;

    @Option(names = "--image-cache", defaultValue = "" + ServeLimits.DEFAULT_IMAGE_CACHE_ENTRIES,
            description = "Encoded images kept for later turns of a conversation (default ${DEFAULT-VALUE}; 0 = off).")
    int imageCache;

    @Option(names = "--max-batch", defaultValue = "" + ServeLimits.DEFAULT_MAX_BATCH, description = "Requests "
            + "decoded together by continuous batching: a new request joins the running batch at the next decode "
            + "step, finished ones leave (default ${DEFAULT-VALUE}; 0 = one request at a time).")
    int maxBatch;

    @Option(names = "--decode", defaultValue = "cpu", description = "Decode path: cpu (plain Java where the model "
            + "allows) or djl (libtorch) (default ${DEFAULT-VALUE}).")
    String decode;

    @Option(names = "--encode-threads", defaultValue = "0", description = "libtorch threads (image encoding; the "
            + "djl decode path): 0 = half the cores when decoding on the CPU path with a vision tower, else all "
            + "(default ${DEFAULT-VALUE}).")
    int encodeThreads;

    @Option(names = "--quantize", defaultValue = "none", description = "Weights for CPU decoding: none (as the "
            + "folder stores them) or int8 (quantised on load, as mm1 quantize does) (default ${DEFAULT-VALUE}).")
    String quantize;

    @Mixin
    DeviceOption device;

    /**
     * {@code limits} for a model of {@code context} positions, checked before its weights load. A limit beyond the
     * context could never be reached: an explicit {@code --max-prompt-tokens} or {@code --max-tokens} beyond it is
     * refused (a typo, or the wrong model folder), while the default {@code --max-tokens} is lowered to it, so that
     * a small model serves without options.
     *
     * @param maxPromptTokens the {@code --max-prompt-tokens} given, or null
     * @param maxTokens       the {@code --max-tokens} given, or null (the default)
     */
    static ServeLimits withinContext(ServeLimits limits, Integer maxPromptTokens, Integer maxTokens, int context) {
        refuseBeyond("--max-prompt-tokens", maxPromptTokens, context);
        refuseBeyond("--max-tokens", maxTokens, context);
        return maxTokens == null ? limits.withMaxTokens(Math.min(limits.maxTokens(), context)) : limits;
    }

    private static void refuseBeyond(String option, Integer given, int context) {
        if (given != null && given > context) {
            throw new Mm1Exception(option + " " + given + " exceeds the model's context of " + context + " tokens");
        }
    }

    /** Refuses a host:port another process already listens on (port 0, any free port, is always fine). */
    static void checkPortFree(String host, int port) {
        if (port == 0) {
            return;
        }
        try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
            probe.bind(new java.net.InetSocketAddress(host, port));
        } catch (java.io.IOException e) {
            throw new Mm1Exception("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        if (port < 0 || port > 65535) {
            throw new Mm1Exception("--port must be within [0, 65535], got " + port);
        }
        if (apiKey != null && apiKey.isEmpty()) {
            apiKey = null; // MM1_API_KEY set to nothing: no key
        }
        if (apiKey != null && (apiKey.isBlank() || !apiKey.equals(apiKey.strip()))) {
            throw new Mm1Exception("--api-key (or MM1_API_KEY) is blank or starts or ends with whitespace: no client "
                    + "could send it as 'Authorization: Bearer KEY'");
        }
        if (shutdownGraceSeconds < 0) {
            throw new Mm1Exception("--shutdown-grace must be >= 0 seconds, got " + shutdownGraceSeconds);
        }
        DecodePath path = DecodePath.of(decode);
        Quantization quantization = Quantization.of(quantize);
        // Unset, the prompt limit is the model's context, which the server checks on every request anyway.
        ServeLimits limits = new ServeLimits(maxBodyBytes, maxImages, maxImagePixels,
                maxPromptTokens != null ? maxPromptTokens : Integer.MAX_VALUE,
                maxTokens != null ? maxTokens : ServeLimits.DEFAULT_MAX_TOKENS, queueSize,
                Duration.ofSeconds(requestTimeoutSeconds), imageCache, allowRemoteImages, Duration.ofSeconds(10));
        checkPortFree(host, port); // before the model loads, and without Javalin's own error line
        Path dir = Mm1Model.resolveFolder(model);
        String id = modelName != null ? modelName : dir.toAbsolutePath().normalize().getFileName().toString();
        if (maxBatch < 0) {
            throw new Mm1Exception("--max-batch must be >= 0 (0 = no continuous batching), got " + maxBatch);
        }
        limits = withinContext(limits, maxPromptTokens, maxTokens, Mm1Model.readConfig(dir).llm().maxPositions());
        Mm1Backend backend = new Mm1Backend(dir, id, device.root(0), path, imageCache, quantization, maxBatch,
                encodeThreads);
        OpenAiServer server = new OpenAiServer(backend, limits, apiKey);
        try {
            server.start(host, port);
        } catch (RuntimeException e) {
            backend.close();
            throw new Mm1Exception("cannot listen on " + host + ":" + port + ": " + rootMessage(e), e);
        }
        if (!isLoopback(host) && apiKey == null) {
            System.err.println("mm1: warning: listening on " + host + " without --api-key: anyone who can reach "
                    + "this port can use the model");
        }
        String base = "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + server.port();
        System.out.println("mm1 serve: model '" + id + "' at " + base + "/ (chat page); OpenAI base URL " + base
                + "/v1" + (apiKey != null ? " (API key required)" : "") + ". Ctrl-C stops.");
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            OpenAiServer.InFlight now = server.inFlight();
            if (now.total() > 0) {
                System.err.println("mm1 serve: stopping with requests in flight (" + now + "); they get up to "
                        + shutdownGraceSeconds + " s to finish (--shutdown-grace); new ones get 503");
            }
            OpenAiServer.InFlight cut = server.drain(Duration.ofSeconds(shutdownGraceSeconds));
            if (cut.total() > 0) {
                System.err.println("mm1 serve: grace over; the requests still in flight (" + cut + ") were stopped "
                        + "(503 shutting_down)");
            }
            backend.close();
            stopped.countDown();
        }, "mm1-serve-shutdown"));
        secondSignalStopsAtOnce();
        stopped.await();
        return 0;
    }

    /**
     * SIGINT/SIGTERM start the graceful stop (the shutdown hook above, exit code 130/143 as before); a second one
     * while it drains ends the process at once instead of waiting out {@code --shutdown-grace}. Without
     * {@code sun.misc.Signal} (a JVM without jdk.unsupported) the JVM's own handling stays.
     */
    private static void secondSignalStopsAtOnce() {
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        try {
            for (String name : new String[] {"INT", "TERM"}) {
                int code = name.equals("INT") ? 130 : 143;
                sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> {
                    if (stopping.compareAndSet(false, true)) {
                        Thread exit = new Thread(() -> System.exit(code), "mm1-serve-exit");
                        exit.start(); // exit blocks until the shutdown hooks (the drain) are done
                    } else {
                        System.err.println("mm1 serve: second signal: stopping now");
                        Runtime.getRuntime().halt(code);
                    }
                });
            }
        } catch (LinkageError | IllegalArgumentException e) {
            // keep the JVM's default: a second signal then waits for the drain
        }
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
