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
     * A task that throws in a worker: the caller must see the error, and the pool must stay usable. The caller's
     * chunk waits until a worker has thrown (holding that chunk, so the worker is sure to take another one).
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

    /** A few large items (attention heads) are split too, by whole items (one per chunk), each run exactly once. */
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
            // guided chunks of whole items: 8 heads go as 2, 2, 1, 1, 1, 1; one item runs on the caller alone
            assertTrue(slices.get() >= Math.min(n, 2) && slices.get() <= n, slices + " slices for " + n + " items");
        }
        pool.close();
    }

    /**
     * Rows are cut into chunks of whole multiples of 8 that partition [0, n) and shrink towards the end of the region
     * (each takes a quarter of what is left on 2 threads, the last ones 8 rows), and a thread held up in its chunk
     * (here: sleeping) is relieved by the other, which takes the remaining chunks instead of waiting for it.
     */
    @Test
    void chunksPartitionTheRowsAndASlowThreadIsRelieved() {
        RowParallel pool = new RowParallel(2);
        AtomicReference<Thread> caller = new AtomicReference<>();
        for (int n : new int[] {64, 100, 1376, 4096}) {
            int[] seen = new int[n];
            AtomicInteger callerRows = new AtomicInteger();
            AtomicInteger slept = new AtomicInteger();
            java.util.Map<Integer, Integer> chunkEnds = new java.util.concurrent.ConcurrentSkipListMap<>();
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                caller.set(Thread.currentThread()); // assertTimeoutPreemptively runs this in a thread of its own
                pool.run(n, (from, to) -> {
                    chunkEnds.put(from, to);
                    assertEquals(0, from % 8, "chunk start " + from + " of " + n);
                    assertTrue(to == n || to % 8 == 0, "chunk end " + to + " of " + n);
                    for (int i = from; i < to; i++) {
                        seen[i]++;
                    }
                    if (Thread.currentThread() == caller.get()) {
                        callerRows.addAndGet(to - from);
                    } else if (slept.getAndIncrement() == 0) {
                        try {
                            Thread.sleep(300); // the worker stalls in its first chunk
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                });
            });
            for (int i = 0; i < n; i++) {
                assertEquals(1, seen[i], "row " + i + " of " + n);
            }
            int last = Integer.MAX_VALUE;
            for (var c : chunkEnds.entrySet()) { // in row order: sizes never grow
                int size = c.getValue() - c.getKey();
                assertTrue(size <= last, "chunk " + c + " of " + n + " after one of " + last + " rows");
                last = size;
            }
            assertTrue(chunkEnds.get(0) - 0 >= n / 4 && chunkEnds.size() > 2, "first chunk " + chunkEnds.get(0)
                    + " rows of " + n + " in " + chunkEnds.size() + " chunks");
            assertTrue(last <= 8, "last chunk " + last + " rows of " + n);
            if (slept.get() > 0) { // the worker took a chunk and stalled: the caller did the rest
                assertTrue(callerRows.get() > n / 2, "caller computed " + callerRows.get() + " of " + n
                        + " rows while the worker stalled");
            }
        }
        pool.close();
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
