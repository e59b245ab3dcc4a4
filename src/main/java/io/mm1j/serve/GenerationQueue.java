package io.mm1j.serve;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The queue in front of the model. A backend that {@linkplain ChatBackend#batches batches continuously} takes every
 * job at once ({@link ChatBackend#submit}): up to its batch size decode together and the rest wait in the backend,
 * at most {@code capacity} of them. Otherwise one worker thread, fed by a bounded queue, generates one job at a time.
 * Either way a full queue is refused at once with a 429 rather than letting waits grow without bound.
 *
 * <p>A {@link Job} hands its results to the request thread through its own event queue, so a slow client blocks only
 * its own request thread, never the worker; the request thread cancels the job when its client goes away or its
 * deadline passes, and the worker's token listener then stops the generation at the next token.
 */
final class GenerationQueue implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GenerationQueue.class);

    private final ChatBackend backend;
    private final ServerMetrics metrics;
    private final ThreadPoolExecutor worker;
    private final int capacity;
    private final boolean batching;
    private final java.util.Set<Job> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    GenerationQueue(ChatBackend backend, int capacity, ServerMetrics metrics) {
        this.backend = backend;
        this.metrics = metrics;
        this.capacity = capacity;
        this.batching = backend.batches();
        this.worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(capacity), r -> {
            Thread t = new Thread(r, "mm1-generate");
            t.setDaemon(true);
            return t;
        });
        metrics.queue(this::depth, capacity);
    }

    /** Requests waiting (not counting the one being generated). */
    long depth() {
        return batching ? backend.waiting() : worker.getQueue().size();
    }

    /** Jobs generating now (started, not finished). */
    int running() {
        return (int) live.stream().filter(Job::started).count();
    }

    /** Jobs submitted that wait for the model (not started). */
    int queued() {
        return (int) live.stream().filter(j -> !j.started()).count();
    }

    /** Queues {@code job}; a full queue is a 429, a closed one a 503. */
    void submit(Job job) {
        if (batching) {
            // Not atomic with the submit (the backend tokenises the prompt there, in parallel across requests): a
            // burst may overfill the waiting places by a few, bounded by the server's admission of queue + batch.
            if (closed) {
                throw new ApiException(503, "server_error", null, "shutting_down", "the server is shutting down");
            }
            if (backend.waiting() >= capacity) {
                throw full();
            }
            live.add(job);
            try {
                backend.submit(job.prompt, job.sampling, job.maxTokens, job);
            } catch (RuntimeException e) {
                live.remove(job);
                job.failed(e);
            }
            return;
        }
        if (closed || worker.isShutdown()) {
            throw new ApiException(503, "server_error", null, "shutting_down", "the server is shutting down");
        }
        live.add(job);
        try {
            worker.execute(job);
        } catch (RejectedExecutionException e) {
            live.remove(job);
            if (worker.isShutdown()) {
                throw new ApiException(503, "server_error", null, "shutting_down", "the server is shutting down");
            }
            throw full();
        }
    }

    /** The 429 for a request that finds every waiting place taken. */
    ApiException full() {
        return new ApiException(429, "rate_limit_error", null, "queue_full", "the server is busy: " + capacity
                + " request(s) are already waiting (--queue-size); retry shortly");
    }

    /** Drops a job that has not started (its deadline passed while it waited). */
    boolean remove(Job job) {
        if (batching) {
            boolean removed = backend.withdraw(job);
            if (removed) {
                live.remove(job);
            }
            return removed;
        }
        boolean removed = worker.remove(job);
        if (removed) {
            live.remove(job);
        }
        return removed;
    }

    /** From now on {@link #submit} answers 503 shutting_down (the server is draining). */
    void stopAccepting() {
        closed = true;
    }

    /** Asks every job, waiting or running, to stop ({@code reason}: see {@link Job#cancel}). */
    void cancelAll(String reason) {
        for (Job j : live) {
            j.cancel(reason); // each stops at the backend's next step, and its request thread answers
        }
    }

    @Override
    public void close() {
        closed = true;
        cancelAll("shutdown");
        worker.shutdownNow();
        try {
            worker.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** What a job reports to its request thread. */
    sealed interface Event permits Delta, Done, Failed, ClientEof {}

    record Delta(String text) implements Event {}

    record Done(Completion completion) implements Event {}

    record Failed(RuntimeException error) implements Event {}

    /** Not from the generation: the client sent end-of-stream ({@link DisconnectWatch}); wakes the request thread. */
    record ClientEof() implements Event {}

    /** One generation request on its way through the queue (run by the worker, or streamed by the backend). */
    final class Job implements Runnable, ChatBackend.Stream {
        final ChatBackend.Input prompt;
        final Sampling sampling;
        final int maxTokens;
        final long arrivedNanos;
        final long deadlineNanos;
        final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        private volatile String cancelReason;
        private volatile boolean started;
        private volatile boolean finished;
        private volatile boolean clientEof;
        /** Tokens generated so far (a backend reports each token once); written by one thread, the generating one. */
        private volatile int tokens;

        Job(ChatBackend.Input prompt, Sampling sampling, int maxTokens, long arrivedNanos, long deadlineNanos) {
            this.prompt = prompt;
            this.sampling = sampling;
            this.maxTokens = maxTokens;
            this.arrivedNanos = arrivedNanos;
            this.deadlineNanos = deadlineNanos;
        }

        /**
         * Asks the generation to stop at its next token; {@code reason} is {@code client}, {@code timeout} or
         * {@code shutdown}.
         */
        void cancel(String reason) {
            if (cancelReason == null) {
                cancelReason = reason;
            }
        }

        String cancelReason() {
            return cancelReason;
        }

        /**
         * The client sent end-of-stream: it closed the connection, or only its sending side. The request thread is
         * woken to find out which by writing ({@link DisconnectWatch}).
         */
        void clientEof() {
            clientEof = true;
            events.add(new ClientEof());
        }

        boolean sawClientEof() {
            return clientEof;
        }

        /** Tokens generated so far: a client that leaves is logged with it. */
        int tokens() {
            return tokens;
        }

        boolean started() {
            return started;
        }

        /** Whether the worker has posted this job's last event. */
        boolean finished() {
            return finished;
        }

        private void post(Event last) {
            finished = true;
            live.remove(this);
            events.add(last);
        }

        private boolean firstSeen;

        // ChatBackend.Stream: a batching backend calls these from its scheduler thread; run() hands the job itself to
        // a backend that does not batch as its listener

        @Override
        public void admitted() {
            started = true;
            metrics.queueWait((System.nanoTime() - arrivedNanos) / 1e9);
        }

        @Override
        public boolean cancelled() {
            if (cancelReason == null && System.nanoTime() - deadlineNanos > 0) {
                cancel("timeout");
            }
            return cancelReason != null;
        }

        @Override
        public boolean onDelta(String delta) {
            tokens++;
            if (!firstSeen) {
                firstSeen = true;
                metrics.firstToken((System.nanoTime() - arrivedNanos) / 1e9);
            }
            if (!delta.isEmpty()) {
                events.add(new Delta(delta));
            }
            return !cancelled();
        }

        @Override
        public boolean onTail(String delta) {
            if (!delta.isEmpty()) {
                events.add(new Delta(delta));
            }
            return !cancelled();
        }

        @Override
        public void done(Completion c) {
            metrics.tokens(c);
            post(new Done(c));
        }

        @Override
        public void failed(RuntimeException e) {
            if (!(e instanceof ApiException)) {
                LOG.error("generation failed", e);
            }
            post(new Failed(e));
        }

        @Override
        public void run() {
            started = true;
            long start = System.nanoTime();
            metrics.queueWait((start - arrivedNanos) / 1e9);
            if (cancelReason != null || start - deadlineNanos > 0) {
                cancel("timeout");
                post(new Done(new Completion("", 0, 0, 0, "cancelled")));
                return;
            }
            try {
                Completion c = backend.generate(prompt, sampling, maxTokens, this);
                metrics.tokens(c);
                post(new Done(c));
            } catch (ApiException e) {
                post(new Failed(e));
            } catch (RuntimeException | Error e) {
                LOG.error("generation failed", e);
                post(new Failed(e instanceof RuntimeException re ? re
                        : new IllegalStateException(e.toString(), e)));
            }
        }
    }
}
