package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RowParallelTest {
    /** A task that throws in a worker's range: the caller must see the error, and the pool must stay usable. */
    @Test
    void workerExceptionIsReportedAndThePoolSurvives() {
        RowParallel pool = new RowParallel(2);
        assertThrows(RuntimeException.class, () -> pool.run(128, (from, to) -> {
            if (from > 0) {
                throw new IllegalStateException("boom in worker rows " + from + ".." + to);
            }
        }), "the worker's exception is swallowed: run() returns normally with rows 64..128 never computed");
        AtomicInteger rows = new AtomicInteger();
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> pool.run(128, (from, to) -> rows.addAndGet(to - from)));
        assertEquals(128, rows.get());
        pool.close();
    }

    /** A few large items (attention heads) are split too, by whole items, and every item runs exactly once. */
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
            assertEquals(n < 2 ? 1 : 2, slices.get(), "slices for " + n + " items on 2 threads");
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
