package io.mm1j.llm;

import io.mm1j.Mm1Exception;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits row ranges between the calling thread and a few persistent workers, for the CPU decode path's
 * matrix-vector products. Each thread gets an equal contiguous share of a region's rows and works through it front
 * to back in pieces; a thread done with its share takes the back half of what is left of the fullest other share,
 * until nothing is left. A thread's rows are thus one run of consecutive weight rows, which the hardware prefetchers
 * stream at full speed (in decode, a product is bound by memory bandwidth: a share per thread decoded 5–11% faster
 * here than pieces of one shared range handed out in turn, whose every piece starts a new stream), while a thread
 * held up (its virtual CPU preempted by the host, or a JIT thread) is relieved by the others as before.
 *
 * <p>Workers spin for {@link #SPIN_NANOS} after their last region before parking, because a
 * decode step issues ~40 short parallel regions (~50 µs each) and waking a parked thread costs more than the work:
 * on a virtual machine an idle vCPU halts, and its wake-up was measured here at 1–3 ms, against 0.1 µs for a
 * spinning one. The spin is measured in time, not iterations (a pause instruction lasts ~10 cycles on older cores
 * and ~140 on newer ones), and after {@link #PURE_SPIN_NANOS} it yields between checks (see {@link #pause}). A
 * worker that has not started a region by the time the caller has done all of it is left out of it, so a worker
 * whose core the host or another thread took never holds up the caller.
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
    private volatile int alignment;
    private volatile long generation;
    /**
     * Thread t's share of the region in flight at index {@link #slot}(t): the rows [from, to) that no thread has
     * taken yet, packed as from · 2^32 + to (see {@link #pack}). Shares sit a cache line apart, so a thread taking
     * pieces of its own does not disturb the others.
     */
    private final AtomicLongArray shares;
    private static final int PAD = 8;
    private final AtomicInteger pending = new AtomicInteger();
    /**
     * Per worker (at {@link #slot}(w)), the last region it is done with: the region in flight (it joined it, or the
     * caller finished that region without it) or the one before (it has yet to look). Only the one CAS that moves it
     * from the region before to this one decides whether the worker takes part, so a worker that the host held up
     * never holds up a region it had not started.
     */
    private final AtomicLongArray seen;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;

    RowParallel(int threads) {
        this.threads = Math.max(1, threads);
        this.workers = new Thread[this.threads - 1];
        this.shares = new AtomicLongArray((this.threads + 1) * PAD);
        this.seen = new AtomicLongArray((this.threads + 1) * PAD);
        for (int w = 0; w < workers.length; w++) {
            int self = w + 1;
            workers[w] = new Thread(() -> loop(self), "mm1-decode-" + self);
            workers[w].setDaemon(true);
            workers[w].start();
        }
    }

    int threads() {
        return threads;
    }

    /** Worker threads still running (all of them until {@link #close}). */
    int liveWorkers() {
        int n = 0;
        for (Thread t : workers) {
            n += t.isAlive() ? 1 : 0;
        }
        return n;
    }

    /**
     * Runs {@code work} over rows [0, n) in pieces (multiples of 8 rows) shared by all threads (see the class
     * comment); returns when done.
     */
    void run(int n, Rows work) {
        run(n, 8, work);
    }

    /** {@link #run} in pieces of multiples of {@code align} rows (whole panels of a packed matrix). */
    void run(int n, int align, Rows work) {
        region(n, align, 64, work);
    }

    /**
     * Runs {@code work} over items [0, n) in pieces of whole items (for a few large items, such as attention heads);
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
        alignment = align;
        long per = ((long) n + threads - 1) / threads;
        per = (per + align - 1) / align * align;
        for (int t = 0; t < threads; t++) {
            shares.set(slot(t), pack((int) Math.min(n, t * per), (int) Math.min(n, (t + 1) * per)));
        }
        pending.set(workers.length);
        generation++; // volatile write publishes task and alignment (the shares are atomics)
        for (Thread t : workers) {
            LockSupport.unpark(t);
        }
        try {
            pieces(work, 0, align);
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
            abandon(); // the other threads take no further pieces
        } finally {
            long g = generation;
            for (int w = 1; w < threads; w++) {
                if (seen.compareAndSet(slot(w), g - 1, g)) { // not started: it will not start this region now
                    pending.decrementAndGet();
                }
            }
            long since = System.nanoTime();
            while (pending.get() > 0) { // every worker that joined reports, even when a slice failed
                pause(since);
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

    /** Where thread t's share sits: a cache line apart from the others' and from the array's header. */
    private static int slot(int t) {
        return (t + 1) * PAD;
    }

    private static long pack(int from, int to) {
        return (long) from << 32 | (to & 0xffffffffL);
    }

    private static int from(long share) {
        return (int) (share >>> 32);
    }

    private static int to(long share) {
        return (int) share;
    }

    /**
     * The rows a thread takes from the front of its share when {@code left} are left: 1 / {@link #PIECES} of them
     * (whole multiples of {@code align}), so pieces shrink towards the end of the share and a thread held up in one
     * holds back little of it. Each row is computed the same way whichever thread takes it.
     */
    private static int piece(int left, int align) {
        long per = ((long) left + PIECES - 1) / PIECES;
        return (int) Math.min(left, Math.max(align, (per + align - 1) / align * align));
    }

    /** Pieces per share's remainder: a quarter of what is left of it at a time. */
    static final int PIECES = 4;

    /**
     * Thread {@code self}'s part of a region: its own share front to back, then the back halves of the others' until
     * none is left.
     */
    private void pieces(Rows work, int self, int align) {
        int at = slot(self);
        for (long s = shares.get(at); from(s) < to(s); s = shares.get(at)) {
            int from = from(s);
            int to = from + piece(to(s) - from, align);
            if (shares.compareAndSet(at, s, pack(to, to(s)))) {
                work.run(from, to);
            }
        }
        while (true) {
            int victim = -1;
            long most = 0;
            int mostLeft = 0;
            for (int t = 0; t < threads; t++) {
                long s = shares.get(slot(t));
                if (to(s) - from(s) > mostLeft) {
                    victim = t;
                    most = s;
                    mostLeft = to(s) - from(s);
                }
            }
            if (victim < 0) {
                return;
            }
            int from = from(most);
            int to = to(most);
            // the back half, cut at a multiple of align (from is one); all of it when that leaves nothing in front
            long half = from + ((long) to - from + 1) / 2;
            int cut = (int) Math.min(to, (half + align - 1) / align * align);
            if (cut >= to) {
                cut = from;
            }
            if (shares.compareAndSet(slot(victim), most, pack(from, cut))) {
                work.run(cut, to);
            }
        }
    }

    /** Empties every share: no thread takes further rows of the region in flight. */
    private void abandon() {
        for (int t = 0; t < threads; t++) {
            shares.set(slot(t), pack(0, 0));
        }
    }

    /**
     * One turn of a wait that began at {@code since}: a pause instruction for the first {@link #PURE_SPIN_NANOS}
     * (the gaps between a decode step's regions are microseconds), then a yield, so that a thread the machine has
     * work for (a request's HTTP thread, a client) runs at once instead of waiting for this one's time slice: on a
     * server with as many busy threads as cores, spinning through those slices made two decode threads slower than
     * one (bench serve on 2 cores, mini).
     */
    private static void pause(long since) {
        if (System.nanoTime() - since < PURE_SPIN_NANOS) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    /** How long a waiting thread spins before it yields between checks. */
    static final long PURE_SPIN_NANOS = 20_000;

    private void loop(int self) {
        int at = slot(self);
        while (true) {
            long idleSince = System.nanoTime();
            long g;
            while ((g = generation) == seen.get(at) && !closed) {
                if (System.nanoTime() - idleSince < SPIN_NANOS) {
                    pause(idleSince);
                } else {
                    LockSupport.park(this); // run() and close() unpark
                    Thread.interrupted(); // an interrupt would stop every later park from blocking
                    idleSince = System.nanoTime(); // woken: spin again, or a worker woken after the caller did
                    // the region alone would park again at once and never catch a region while they come fast
                }
            }
            if (closed && g == seen.get(at)) { // closed and nothing left to run
                return;
            }
            if (!seen.compareAndSet(at, g - 1, g)) {
                continue; // the caller finished region g without this thread
            }
            try {
                pieces(task, self, alignment);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                abandon();
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
