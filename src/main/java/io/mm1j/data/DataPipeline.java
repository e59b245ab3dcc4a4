package io.mm1j.data;

import io.mm1j.data.SampleEncoder.Prepared;
import io.mm1j.Mm1Exception;
import java.util.Iterator;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Background prefetch: sampler → N workers (image decode + preprocess + tokenise) → packer → a bounded queue of
 * batches that the training thread takes from.
 *
 * <p>Only one thread touches the sampler and one the packer, and workers' results are consumed in submission
 * order (a bounded queue of futures), so batches are identical whatever the worker count — parallelism changes
 * speed, never data. Both queues are bounded, so memory is too. An error in any stage is rethrown by
 * {@link #next()}.
 */
public final class DataPipeline implements Iterator<Batch>, AutoCloseable {
    private static final Object END = new Object();
    private static final AtomicInteger IDS = new AtomicInteger();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(DataPipeline.class);

    private final java.util.concurrent.atomic.AtomicLong failed = new java.util.concurrent.atomic.AtomicLong();
    private final boolean skipFailing;
    private final MixtureSampler sampler;
    private final ExecutorService workers;
    private final BlockingQueue<Future<Prepared>> prepared;
    private final BlockingQueue<Object> batches;
    private final Thread producer;
    private final Thread packerThread;
    private volatile boolean closed;
    private Object head;

    /**
     * @param workers     threads for decode/preprocess/tokenise
     * @param queueSize   batches kept ready ahead of the training thread
     */
    public DataPipeline(MixtureSampler sampler, SampleEncoder encoder, SequencePacker packer, int workers,
                        int queueSize) {
        this(sampler, encoder, packer, workers, queueSize, false);
    }

    /**
     * @param skipFailing true: a sample whose preparation fails with an {@link Mm1Exception} (bad data) is logged,
     *                    counted and skipped (training); false: the error reaches {@link #next} (strict checks)
     */
    public DataPipeline(MixtureSampler sampler, SampleEncoder encoder, SequencePacker packer, int workers,
                        int queueSize, boolean skipFailing) {
        this.skipFailing = skipFailing;
        if (workers < 1 || queueSize < 1) {
            throw new Mm1Exception("data pipeline: workers and queue size must be positive");
        }
        this.sampler = sampler;
        int id = IDS.incrementAndGet();
        this.workers = Executors.newFixedThreadPool(workers, r -> daemon(r, "mm1-data-" + id + "-worker"));
        this.prepared = new ArrayBlockingQueue<>(Math.max(4, workers * 4));
        this.batches = new ArrayBlockingQueue<>(queueSize);
        producer = daemon(() -> {
            try {
                while (!closed) {
                    MixtureSampler.Cursor before = sampler.cursor();
                    Sample s = sampler.next();
                    MixtureSampler.Cursor after = sampler.cursor();
                    int source = sampler.lastSource();
                    prepared.put(this.workers.submit(() -> prepareOrSkip(encoder, s, before, after, source)));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Throwable e) { // Errors too: a dead stage must never leave the trainer waiting
                deliver(prepared, failed(asRuntime(e))); // blocking: a full queue must not swallow the error
            }
        }, "mm1-data-" + id + "-sampler");
        packerThread = daemon(() -> {
            Iterator<Prepared> in = new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return true;
                }

                @Override
                public Prepared next() {
                    if (failedInARow.get() >= FAILED_IN_A_ROW_LIMIT) { // nothing loads: fail, never spin
                        throw new Mm1Exception("data: the last " + FAILED_IN_A_ROW_LIMIT + " samples all failed to "
                                + "load and were skipped (the latest: " + lastFailure + "); nothing to train on: fix "
                                + "the source, the model or the chat template (see the warnings above)");
                    }
                    try {
                        return prepared.take().get();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new Stop();
                    } catch (ExecutionException e) {
                        throw e.getCause() instanceof RuntimeException r ? r : new Mm1Exception(
                                "data worker failed: " + e.getCause(), e.getCause());
                    }
                }
            };
            try {
                while (!closed) {
                    Batch b = packer.next(in);
                    batches.put(b == null ? END : b);
                    if (b == null) {
                        return;
                    }
                }
            } catch (Stop | InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Throwable e) {
                deliver(batches, asRuntime(e));
            }
        }, "mm1-data-" + id + "-packer");
        producer.start();
        packerThread.start();
    }

    /**
     * One failing item (a corrupt image behind a valid record, an unreadable file) must not kill a long run: it is
     * logged, counted ({@link #failedSamples}) and replaced by an empty sample that keeps the cursors, so the
     * stream — and an exact resume — is unchanged for every other sample. Programming errors (not
     * {@link Mm1Exception}) still stop the pipeline.
     */
    private Prepared prepareOrSkip(SampleEncoder encoder, Sample s, MixtureSampler.Cursor before,
                                   MixtureSampler.Cursor after, int source) {
        try {
            Prepared p = encoder.prepare(s, before, after).withSource(source);
            failedInARow.set(0);
            return p;
        } catch (Mm1Exception e) {
            if (!skipFailing) {
                throw e;
            }
            if (closed) { // shutdownNow interrupted the read: not the data's fault, and nobody takes the result
                return Prepared.skipped(before, after, source);
            }
            failedInARow.incrementAndGet();
            lastFailure = "sample " + s.id() + ": " + e.getMessage();
            long n = failed.incrementAndGet();
            if (n <= 10) {
                LOG.warn("skipping sample {} ({}): {}", s.id(), n, e.getMessage());
            } else if (n == 11) {
                LOG.warn("further failing samples are counted but not logged");
            }
            return Prepared.skipped(before, after, source);
        }
    }

    /** Consecutive skipped samples after which the pipeline fails instead of looking on for one that loads. */
    static final int FAILED_IN_A_ROW_LIMIT = 1000;
    private final java.util.concurrent.atomic.AtomicLong failedInARow = new java.util.concurrent.atomic.AtomicLong();
    private volatile String lastFailure = "";

    /** Samples that failed to prepare and were skipped so far. */
    public long failedSamples() {
        return failed.get();
    }

    private static final class Stop extends RuntimeException {
        Stop() {
            super(null, null, false, false);
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Puts an error behind the queued items, waiting for room: the queues are normally full (data runs ahead of
     * training), and a dropped error would leave the training thread blocked forever. Gives up only on close.
     */
    private <T> void deliver(BlockingQueue<T> queue, T error) {
        try {
            while (!closed && !queue.offer(error, 100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                // the consumer is still draining; keep waiting
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
    }

    private static RuntimeException asRuntime(Throwable t) {
        return t instanceof RuntimeException r ? r : new Mm1Exception("data pipeline failed: " + t, t);
    }

    private static Future<Prepared> failed(RuntimeException e) {
        java.util.concurrent.CompletableFuture<Prepared> f = new java.util.concurrent.CompletableFuture<>();
        f.completeExceptionally(e);
        return f;
    }

    @Override
    public boolean hasNext() {
        while (head == null) {
            if (closed) {
                throw new Mm1Exception("data pipeline closed");
            }
            try {
                head = batches.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS); // wakes to see close()
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Mm1Exception("interrupted while waiting for data");
            }
        }
        if (head instanceof RuntimeException e) {
            head = END;
            throw e;
        }
        return head != END;
    }

    @Override
    public Batch next() {
        if (!hasNext()) {
            throw new java.util.NoSuchElementException();
        }
        Batch b = (Batch) head;
        head = null;
        return b;
    }

    @Override
    public void close() {
        closed = true;
        producer.interrupt();
        packerThread.interrupt();
        workers.shutdownNow();
        try {
            producer.join(5000);
            packerThread.join(5000);
            // a worker may still be inside the tokenizer or an image decoder (native code, not interruptible):
            // the caller frees those once close() returns, so wait for the workers to leave them
            if (!workers.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS)) {
                LOG.warn("data pipeline: a worker is still busy 60 s after close()");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sampler.close();
    }
}
