package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RowParallelTest {
    /**
     * Regions the caller can finish before a worker arrives (it then leaves the worker out): the workers must stay
     * alive and keep taking part. A worker that found its region done without it used to exit (its thread ended,
     * and decoding went on single-threaded); this loop killed the worker of a 2-thread pool within ~0.5 s.
     */
    @Test
    void workersLeftOutOfARegionStayAliveAndTakePartLater() {
        RowParallel pool = new RowParallel(3);
        long end = System.nanoTime() + 2_000_000_000L;
        int regions = 0;
        AtomicInteger rows = new AtomicInteger();
        while (System.nanoTime() < end && regions < 1_000_000) {
            pool.run(64, (from, to) -> rows.addAndGet(to - from));
            regions++;
        }
        assertEquals(64L * regions, rows.get());
        assertEquals(2, pool.liveWorkers(), "after " + regions + " regions");
        java.util.Set<Thread> took = java.util.concurrent.ConcurrentHashMap.newKeySet();
        Thread me = Thread.currentThread();
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            while (took.size() < 2) { // a worker takes part in a region long enough for it to arrive
                pool.run(4096, (from, to) -> {
                    if (Thread.currentThread() != me) {
                        took.add(Thread.currentThread());
                    }
                    long until = System.nanoTime() + 20_000;
                    while (System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                });
            }
        });
        pool.close();
    }

    /**
     * A task that throws in a worker: the caller must see the error, and the pool must stay usable. The caller's
     * first piece waits until a worker has thrown (holding that piece, so the worker is sure to take one of its own).
     */
    @Test
    void workerExceptionIsReportedAndThePoolSurvives() {
        RowParallel pool = new RowParallel(2);
        AtomicReference<Thread> caller = new AtomicReference<>();
        java.util.concurrent.CountDownLatch thrown = new java.util.concurrent.CountDownLatch(1);
        RuntimeException seen = assertThrows(RuntimeException.class, () -> {
            caller.set(Thread.currentThread());
            pool.run(128, (from, to) -> {
                if (Thread.currentThread() != caller.get()) {
                    thrown.countDown();
                    throw new IllegalStateException("boom in worker rows " + from + ".." + to);
                }
                try {
                    thrown.await(5, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }, "the worker's exception is swallowed: run() returns normally with the worker's rows never computed");
        assertTrue(seen.getMessage().startsWith("boom in worker rows"), seen.getMessage());
        AtomicInteger rows = new AtomicInteger();
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> pool.run(128, (from, to) -> rows.addAndGet(to - from)));
        assertEquals(128, rows.get());
        pool.close();
    }

    /** A few large items (attention heads) are split too, by whole items (whole ones per piece), each run once. */
    @Test
    void fewItemsAreSplitByWholeItemsAndEachRunsOnce() {
        RowParallel pool = new RowParallel(2);
        for (int n : new int[] {1, 2, 3, 8, 9}) {
            int[] seen = new int[n];
            AtomicInteger slices = new AtomicInteger();
            assertTimeoutPreemptively(Duration.ofSeconds(5), () -> pool.runEach(n, (from, to) -> {
                slices.incrementAndGet();
                for (int i = from; i < to; i++) {
                    seen[i]++;
                }
            }));
            for (int i = 0; i < n; i++) {
                assertEquals(1, seen[i], "item " + i + " of " + n);
            }
            // pieces of whole items: 8 heads as 4 per thread, one at a time; one item runs on the caller alone
            assertTrue(slices.get() >= Math.min(n, 2) && slices.get() <= n, slices + " slices for " + n + " items");
        }
        pool.close();
    }

    /**
     * Rows are cut into pieces of whole multiples of 8 that partition [0, n); each thread takes its own contiguous
     * share front to back (the caller's pieces start at row 0 and follow one another, each at most as large as the
     * one before), and a thread held up in its piece (here: sleeping) is relieved by the other, which takes the rest
     * of its share from the back instead of waiting for it.
     */
    @Test
    void piecesPartitionTheRowsSharesAreTakenFrontToBackAndASlowThreadIsRelieved() {
        RowParallel pool = new RowParallel(2);
        AtomicReference<Thread> caller = new AtomicReference<>();
        for (int n : new int[] {64, 100, 1376, 4096}) {
            int[] seen = new int[n];
            java.util.List<int[]> callerPieces = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            AtomicInteger slept = new AtomicInteger();
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                caller.set(Thread.currentThread()); // assertTimeoutPreemptively runs this in a thread of its own
                pool.run(n, (from, to) -> {
                    assertEquals(0, from % 8, "piece start " + from + " of " + n);
                    assertTrue(to == n || to % 8 == 0, "piece end " + to + " of " + n);
                    for (int i = from; i < to; i++) {
                        seen[i]++;
                    }
                    if (Thread.currentThread() == caller.get()) {
                        callerPieces.add(new int[] {from, to});
                    } else if (slept.getAndIncrement() == 0) {
                        try {
                            Thread.sleep(300); // the worker stalls in its first piece
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                });
            });
            for (int i = 0; i < n; i++) {
                assertEquals(1, seen[i], "row " + i + " of " + n);
            }
            int share = (n / 2 + 7) / 8 * 8; // the caller's share: rows [0, share)
            int end = 0;
            int last = Integer.MAX_VALUE;
            int callerRows = 0;
            for (int[] p : callerPieces) {
                callerRows += p[1] - p[0];
                if (p[0] < share) { // its own share: front to back, in shrinking pieces
                    assertEquals(end, p[0], "the caller's piece " + java.util.Arrays.toString(p) + " of " + n
                            + " does not follow its previous one");
                    assertTrue(p[1] - p[0] <= last, "piece " + java.util.Arrays.toString(p) + " after one of "
                            + last + " rows");
                    end = p[1];
                    last = p[1] - p[0];
                }
            }
            assertTrue(callerPieces.get(0)[1] - callerPieces.get(0)[0] >= share / 4 && last <= 8,
                    "pieces of the caller's share of " + n + " rows: first " + java.util.Arrays.toString(
                            callerPieces.get(0)) + ", last " + last + " rows");
            if (slept.get() > 0) { // the worker took a piece and stalled: the caller did the rest of its share too
                assertTrue(callerRows > n / 2 + n / 4, "caller computed " + callerRows + " of " + n
                        + " rows while the worker stalled");
            }
        }
        pool.close();
    }

    /**
     * With more threads than two, and threads held up at random inside their pieces, every row (and item) is still
     * computed exactly once, in pieces aligned to 8 rows (whole items), whatever the region's size.
     */
    @Test
    void moreThreadsAndRandomStallsStillComputeEachRowOnce() {
        for (int threads : new int[] {3, 4, 5}) {
            RowParallel pool = new RowParallel(threads);
            java.util.Random random = new java.util.Random(threads);
            for (int n : new int[] {1, 7, 9, 64, 100, 1376}) {
                for (boolean each : new boolean[] {false, true}) {
                    java.util.concurrent.atomic.AtomicIntegerArray seen =
                            new java.util.concurrent.atomic.AtomicIntegerArray(n);
                    long seed = random.nextLong();
                    RowParallel.Rows work = (from, to) -> {
                        assertTrue(each || from % 8 == 0 && (to == n || to % 8 == 0), "piece " + from + ".." + to);
                        for (int i = from; i < to; i++) {
                            seen.incrementAndGet(i);
                        }
                        if (new java.util.Random(seed + from).nextInt(4) == 0) {
                            try {
                                Thread.sleep(1); // this thread is held up; the others take the rest
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        }
                    };
                    assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                        if (each) {
                            pool.runEach(n, work);
                        } else {
                            pool.run(n, work);
                        }
                    });
                    for (int i = 0; i < n; i++) {
                        assertEquals(1, seen.get(i), "row " + i + " of " + n + " on " + threads + " threads"
                                + (each ? " (items)" : ""));
                    }
                }
            }
            pool.close();
        }
    }

    @Test
    void nextRunAfterAWorkerDiedDoesNotHang() {
        RowParallel pool = new RowParallel(2);
        try {
            pool.run(128, (from, to) -> {
                if (from > 0) {
                    throw new IllegalStateException("boom");
                }
            });
        } catch (RuntimeException expected) {
            // fine either way
        }
        AtomicInteger rows = new AtomicInteger();
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> pool.run(128, (from, to) -> rows.addAndGet(to - from)));
    }

    @Test
    void runAfterCloseFailsInsteadOfSpinningForever() {
        RowParallel pool = new RowParallel(2);
        pool.run(128, (from, to) -> { });
        pool.close();
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertThrows(RuntimeException.class,
                () -> pool.run(128, (from, to) -> { })));
    }
}
