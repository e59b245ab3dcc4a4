package io.mm1j.llm;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits row ranges between the calling thread and a few persistent workers, for the CPU decode path's
 * matrix-vector products. Workers spin briefly before parking, because a decode step issues ~40 short parallel
 * regions and a park/unpark round trip per region would cost more than the work.
 */
final class RowParallel implements AutoCloseable {
    /** Work on rows [from, to) of one region. */
    @FunctionalInterface
    interface Rows {
        void run(int from, int to);
    }

    private final int threads;
    private final Thread[] workers;
    private volatile Rows task;
    private volatile int rows;
    private volatile long generation;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile boolean closed;

    RowParallel(int threads) {
        this.threads = Math.max(1, threads);
        this.workers = new Thread[this.threads - 1];
        for (int w = 0; w < workers.length; w++) {
            final int part = w + 1;
            workers[w] = new Thread(() -> loop(part), "mm1-decode-" + part);
            workers[w].setDaemon(true);
            workers[w].start();
        }
    }

    int threads() {
        return threads;
    }

    /** Runs {@code task} over rows [0, n) split evenly (multiples of 8) across all threads; returns when done. */
    void run(int n, Rows work) {
        if (threads == 1 || n < 64) {
            work.run(0, n);
            return;
        }
        task = work;
        rows = n;
        pending.set(workers.length);
        generation++; // volatile write publishes task and rows
        for (Thread t : workers) {
            LockSupport.unpark(t);
        }
        work.run(0, bound(n, 1));
        while (pending.get() > 0) {
            Thread.onSpinWait();
        }
    }

    private int bound(int n, int part) {
        return (int) ((long) n * part / threads) & ~7;
    }

    private void loop(int part) {
        long seen = 0;
        while (!closed) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (++spins < 20_000) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(200_000);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            int n = rows;
            int to = part == threads - 1 ? n : bound(n, part + 1);
            try {
                task.run(bound(n, part), to);
            } finally {
                pending.decrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : workers) {
            LockSupport.unpark(t);
        }
    }
}
