package io.mm1j.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import ai.djl.ndarray.types.DataType;
import io.mm1j.ManagedNdTest;
import io.mm1j.config.LlmConfig;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The shared CPU decoder under concurrent generations, weight updates and closing. */
class CpuDecoderConcurrencyTest extends ManagedNdTest {
    /** close() racing with run(): a worker that wakes to a new generation but sees closed exits without
     *  decrementing pending, and run() spins forever. */
    @Test
    void closeDuringRunDoesNotHangTheCaller() throws Exception {
        for (int i = 0; i < 20; i++) {
            RowParallel pool = new RowParallel(2);
            pool.run(128, (f, t) -> { });
            Thread.sleep(50); // worker has spun out and parked
            AtomicReference<Throwable> err = new AtomicReference<>();
            AtomicReference<Thread> runner = new AtomicReference<>();
            java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();
            Thread caller = new Thread(() -> {
                runner.set(Thread.currentThread());
                try {
                    pool.run(128, (from, to) -> {
                        // the thread that called run() closes on its first piece (a worker may take any piece,
                        // and a worker calling close() would wait for the region it is part of); in real use,
                        // Decoder.releaseCpuDecoder()/close() from another thread
                        if (Thread.currentThread() == runner.get() && closing.compareAndSet(false, true)) {
                            pool.close();
                        }
                    });
                } catch (Throwable t) {
                    err.set(t);
                }
            });
            caller.setDaemon(true);
            caller.start();
            caller.join(3000);
            assertFalse(caller.isAlive(), "iteration " + i + ": run() still spinning 3 s after close()");
        }
    }

    /** Decoder.cpuDecoder() calls ensureCapacity (pos = 0, maybe new cache arrays) without the cpu lock that
     *  Generator holds for a whole generation: a second generation starting resets the first one's position. */
    @Test
    void secondCallerResetsAGenerationInProgress() throws Exception {
        Decoder d = Decoder.init(LlmConfig.llama(100, 32, 64, 1, 4, 2, 64, true), m, DataType.FLOAT32);
        CpuDecoder cpu = d.cpuDecoder(32);
        CountDownLatch stepped = new CountDownLatch(1);
        CountDownLatch resumed = new CountDownLatch(1);
        AtomicReference<Integer> posAfter = new AtomicReference<>();
        Thread a = new Thread(() -> {
            synchronized (cpu) { // exactly what Generator.generate holds
                cpu.ensureCapacity(32);
                cpu.step(1);
                cpu.step(5);
                cpu.step(7);
                stepped.countDown();
                try {
                    resumed.await();
                } catch (InterruptedException e) {
                    return;
                }
                posAfter.set(cpu.position());
            }
        });
        a.start();
        stepped.await();
        assertSame(cpu, d.cpuDecoder(48)); // another Generator starting: returns at once, A still holds cpu
        resumed.countDown();
        a.join();
        assertEquals(3, posAfter.get(), "generation in progress had its KV position reset by another caller");
        d.close();
    }

    /** A version bump (training step) plus another caller closes the snapshot a generation is using. */
    @Test
    void snapshotInvalidationClosesAGenerationInProgress() throws Exception {
        Decoder d = Decoder.init(LlmConfig.llama(100, 32, 64, 1, 4, 2, 64, true), m, DataType.FLOAT32);
        CpuDecoder cpu = d.cpuDecoder(32);
        CountDownLatch stepped = new CountDownLatch(1);
        CountDownLatch resumed = new CountDownLatch(1);
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread a = new Thread(() -> {
            if (!cpu.acquire()) { // exactly what Generator.generate does
                err.set(new AssertionError("fresh snapshot refused"));
                return;
            }
            try {
                synchronized (cpu) {
                    cpu.ensureCapacity(32);
                    cpu.step(1);
                    stepped.countDown();
                    resumed.await();
                    cpu.step(5);
                }
            } catch (Throwable t) {
                err.set(t);
            } finally {
                cpu.release();
            }
        });
        a.start();
        stepped.await();
        d.params().touch();
        CpuDecoder fresh = d.cpuDecoder(32);
        assertFalse(fresh == cpu, "changed weights give a new snapshot");
        assertFalse(cpu.acquire(), "the replaced snapshot takes no new generation");
        resumed.countDown();
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> a.join());
        assertNull(err.get(), "generation in progress broke: " + err.get());
        d.close();
    }
}
