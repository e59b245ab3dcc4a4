package io.mm1j.serve;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A backend with known behaviour for protocol tests: the answer is "w0 w1 w2 …" (one word per token), the prompt is
 * one token per character plus 4 per image (and at least a quarter of its characters, without counting);
 * {@link #hold} makes generations wait for {@link #release} after {@code startedCount} of them began, so tests can fill
 * the queue or disconnect mid-stream.
 */
final class ScriptedBackend implements ChatBackend {
    static final int IMAGE_TOKENS = 4;

    final AtomicInteger started = new AtomicInteger();
    final AtomicInteger cancelled = new AtomicInteger();
    final AtomicInteger tokensProduced = new AtomicInteger();
    /** The longest prompt {@link #countPromptTokens} was asked to count, in tokens. */
    final AtomicInteger longestCounted = new AtomicInteger();
    volatile CountDownLatch firstTokenSent = new CountDownLatch(1);
    private final Semaphore gate = new Semaphore(Integer.MAX_VALUE);
    private volatile long tokenDelayMillis;

    private java.util.concurrent.ThreadPoolExecutor batch;
    private final java.util.Map<Stream, Runnable> submitted = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Makes this a batching backend ({@link ChatBackend#batches}): up to {@code maxBatch} generations run at once
     * (each on its own thread), later ones wait; the server's side of continuous batching (submit, withdraw, cancel,
     * the waiting limit) is exercised without a model.
     */
    ScriptedBackend batching(int maxBatch) {
        batch = new java.util.concurrent.ThreadPoolExecutor(maxBatch, maxBatch, 0, TimeUnit.SECONDS,
                new java.util.concurrent.LinkedBlockingQueue<>());
        return this;
    }

    @Override
    public boolean batches() {
        return batch != null;
    }

    @Override
    public int batchSize() {
        return batch == null ? 1 : batch.getMaximumPoolSize();
    }

    @Override
    public void submit(Input prompt, Sampling sampling, int maxTokens, Stream stream) {
        Runnable r = () -> {
            submitted.remove(stream);
            stream.admitted();
            if (stream.cancelled()) {
                stream.done(new Completion("", countPromptTokens(prompt), 0, 0, "cancelled"));
                return;
            }
            try {
                stream.done(generate(prompt, sampling, maxTokens, new DeltaListener() {
                    @Override
                    public boolean onDelta(String d) {
                        return stream.onDelta(d) && !stream.cancelled();
                    }

                    @Override
                    public boolean onTail(String d) {
                        return stream.onTail(d) && !stream.cancelled();
                    }
                }));
            } catch (RuntimeException e) {
                stream.failed(e);
            }
        };
        submitted.put(stream, r);
        batch.execute(r);
    }

    @Override
    public boolean withdraw(Stream stream) {
        Runnable r = submitted.remove(stream);
        return r != null && batch.remove(r);
    }

    @Override
    public int waiting() {
        return batch == null ? 0 : batch.getQueue().size();
    }

    @Override
    public int running() {
        return batch == null ? 0 : batch.getActiveCount();
    }

    @Override
    public void close() {
        if (batch != null) {
            batch.shutdownNow();
        }
    }

    /** Generations block before each token until {@link #release}. */
    void hold() {
        gate.drainPermits();
    }

    void release() {
        gate.release(Integer.MAX_VALUE / 2);
    }

    void tokenDelay(long millis) {
        tokenDelayMillis = millis;
    }

    private volatile String tail = "";

    /**
     * After a natural end (length or stop), delivers {@code text} as held-back text ({@link DeltaListener#onTail}),
     * as the model backend flushes the rest of a multi-byte character or of a stop string's prefix: no token.
     */
    ScriptedBackend tail(String text) {
        tail = text;
        return this;
    }

    @Override
    public String modelId() {
        return "scripted";
    }

    @Override
    public int contextLength() {
        return 256;
    }

    @Override
    public boolean acceptsImages() {
        return true;
    }

    @Override
    public int countPromptTokens(Input prompt) {
        int n = 1 + chars(prompt) + images(prompt) * IMAGE_TOKENS;
        longestCounted.accumulateAndGet(n, Math::max);
        return n;
    }

    /** As if a token were at most 4 characters: a quarter of the text, rounded down (images not counted). */
    @Override
    public int minPromptTokens(Input prompt) {
        return chars(prompt) / 4;
    }

    private static int chars(Input prompt) {
        if (prompt instanceof TextInput t) {
            return t.text().length();
        }
        int n = 0;
        for (ChatTurn turn : ((ChatInput) prompt).turns()) {
            for (ChatTurn.Content c : turn.content()) {
                n += c instanceof ChatTurn.Text t ? t.text().length() : 0;
            }
        }
        return n;
    }

    private static int images(Input prompt) {
        return prompt instanceof ChatInput c ? c.turns().stream().mapToInt(ChatTurn::imageCount).sum() : 0;
    }

    @Override
    public Completion generate(Input prompt, Sampling sampling, int maxTokens, DeltaListener listener) {
        started.incrementAndGet();
        StringBuilder text = new StringBuilder();
        int n = 0;
        String finish = "length";
        while (n < maxTokens) {
            try {
                if (!gate.tryAcquire(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("scripted backend held for 30 s");
                }
                if (tokenDelayMillis > 0) {
                    Thread.sleep(tokenDelayMillis);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            String word = (n == 0 ? "" : " ") + "w" + n;
            if (sampling.stop().contains("w" + n)) {
                finish = "stop";
                break;
            }
            n++;
            tokensProduced.incrementAndGet();
            text.append(word);
            boolean go = listener.onDelta(word);
            firstTokenSent.countDown();
            if (!go) {
                cancelled.incrementAndGet();
                finish = "cancelled";
                break;
            }
        }
        if (!finish.equals("cancelled") && !tail.isEmpty()) {
            text.append(tail);
            listener.onTail(tail);
        }
        int promptTokens = countPromptTokens(prompt);
        return new Completion(text.toString(), promptTokens, images(prompt) * IMAGE_TOKENS, n, finish);
    }

    static List<String> words(int n) {
        return java.util.stream.IntStream.range(0, n).mapToObj(i -> "w" + i).toList();
    }
}
