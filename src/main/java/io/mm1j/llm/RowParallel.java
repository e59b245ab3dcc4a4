package io.mm1j.llm;

import io.mm1j.Mm1Exception;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits row ranges into chunks that the calling thread and a few persistent workers take in turn, for the CPU
 * decode path's matrix-vector products. Workers spin for {@link #SPIN_NANOS} after their last region before parking, because a
 * decode step issues ~40 short parallel regions (~50 µs each) and waking a parked thread costs more than the work:
 * on a virtual machine an idle vCPU halts, and its wake-up was measured here at 1–3 ms, against 0.1 µs for a
 * spinning one. The spin is measured in time, not iterations: a pause instruction lasts ~10 cycles on older cores
 * and ~140 on newer ones.
 *
 * <p>Failures are not lost: the first exception thrown by any slice (the caller's or a worker's) is rethrown by
 * {@link #run} after every slice has finished, and workers survive it. After {@link #close} the workers exit and
 * {@link #run} refuses work. One region runs at a time; callers serialise (a {@link CpuDecoder} is used by one
 * generation at a time).
 */
final class RowParallel implements AutoCloseable {
    /** Work on rows [from, to) of one region. */
    @FunctionalInterface
    interface Rows {
        void run(int from, int to);
    }

    /**
     * How long an idle worker spins before parking: longer than the gap between two tokens of a generation
     * (sampling, streaming: well under 1 ms), so workers stay awake through a whole generation, and short enough
     * that an idle server gives its cores back at once.
     */
    static final long SPIN_NANOS = 5_000_000;

    private final int threads;
    private final Thread[] workers;
    private volatile Rows task;
    private volatile int rows;
    private volatile int alignment;
    private volatile long generation;
    /** The first row of the region in flight that no thread has taken yet. */
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;

    RowParallel(int threads) {
        this.threads = Math.max(1, threads);
        this.workers = new Thread[this.threads - 1];
        for (int w = 0; w < workers.length; w++) {
            workers[w] = new Thread(this::loop, "mm1-decode-" + (w + 1));
            workers[w].setDaemon(true);
            workers[w].start();
        }
    }

    int threads() {
        return threads;
    }

    /** Runs {@code work} over rows [0, n) in chunks (multiples of 8 rows) shared by all threads; returns when done. */
    void run(int n, Rows work) {
        region(n, 8, 64, work);
    }

    /**
     * Runs {@code work} over items [0, n) in chunks of whole items (for a few large items, such as attention heads);
     * returns when done.
     */
    void runEach(int n, Rows work) {
        region(n, 1, 2, work);
    }

    private synchronized void region(int n, int align, int least, Rows work) {
        if (closed) {
            throw new Mm1Exception("CPU decoder already closed");
        }
        if (threads == 1 || n < least) {
            work.run(0, n);
            return;
        }
        failure.set(null);
        task = work;
        rows = n;
        alignment = align;
        next.set(0);
        pending.set(workers.length);
        generation++; // volatile write publishes task, rows and alignment
        for (Thread t : workers) {
            LockSupport.unpark(t);
        }
        try {
            chunks(work, n, align);
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
            next.set(n); // the other threads take no further chunks
        } finally {
            while (pending.get() > 0) { // every worker reports, even when a slice failed
                Thread.onSpinWait();
            }
            task = null;
        }
        Throwable t = failure.get();
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * The rows a thread takes when {@code left} rows of a region are left: 1 / {@link #SHARES} of them per thread
     * (whole multiples of {@code align}), so chunks start large (few hand-offs) and shrink towards the end of the
     * region (guided self-scheduling): a thread that runs slower for a while (its virtual CPU shared with a
     * neighbour, or preempted by the JIT compiler) is relieved by the others, and the threads finish within about
     * one small chunk of each other instead of one chunk of a fixed size. Each row is computed the same way
     * whichever thread takes it.
     */
    private int take(int left, int align) {
        int per = (left + threads * SHARES - 1) / (threads * SHARES);
        return Math.max(align, (per + align - 1) / align * align);
    }

    /** Parts of what is left that a chunk may take, per thread. */
    static final int SHARES = 2;

    /** Takes chunks of [0, n) until none is left. */
    private void chunks(Rows work, int n, int align) {
        for (int from = next.get(); from < n; from = next.get()) {
            int to = Math.min(n, from + take(n - from, align));
            if (next.compareAndSet(from, to)) {
                work.run(from, to);
            }
        }
    }

    private void loop() {
        long seen = 0;
        while (true) {
            int spins = 0;
            long idleSince = System.nanoTime();
            while (generation == seen && !closed) { // a published region is always finished, even when closing
                if ((++spins & 255) != 0 || System.nanoTime() - idleSince < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this); // run() and close() unpark
                }
            }
            if (generation == seen) { // closed and nothing left to run
                return;
            }
            seen = generation;
            int n = rows;
            try {
                chunks(task, n, alignment);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                next.set(n);
            } finally {
                pending.decrementAndGet();
            }
        }
    }

    /** Stops the workers; waits for a region in flight (run and close share the monitor). */
    @Override
    public synchronized void close() {
        closed = true;
        for (Thread t : workers) {
            LockSupport.unpark(t);
        }
    }
}
