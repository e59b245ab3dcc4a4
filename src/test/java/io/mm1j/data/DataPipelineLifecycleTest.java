package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

class DataPipelineLifecycleTest {
    static SampleEncoder enc(boolean errorInWorker) {
        return new SampleEncoder(t -> {
            if (errorInWorker && t.endsWith(" 3")) {
                throw new StackOverflowError("deep recursion in a decoder");
            }
            return t.chars().mapToLong(ch -> 8 + (ch & 0xFF)).toArray();
        }, SampleEncoder.resizeToUnit(8));
    }

    static MixtureSampler.Source errorSource(int n) {
        return new MixtureSampler.Source("text", 1.0, () -> new Iterator<Sample>() {
            int i;
            public boolean hasNext() { return true; }
            public Sample next() {
                if (i == n) {
                    throw new AssertionError("sampler bug (an Error, not a RuntimeException)");
                }
                i++;
                return new Sample.Text("t" + i, "hello world " + i);
            }
        });
    }

    /** An Error in the sampler thread kills it silently: the training thread waits forever. */
    @Test
    void samplerErrorIsDeliveredNotAHang() {
        try (DataPipeline p = new DataPipeline(new MixtureSampler(List.of(errorSource(5)), 1), enc(false),
                new SequencePacker(new SequencePacker.Config(1, 32, 1, 4)), 1, 1)) {
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(Throwable.class, () -> {
                for (int i = 0; i < 1000; i++) {
                    p.next();
                }
            }));
        }
    }

    /** close() from another thread while the training thread is blocked in next(): it stays blocked forever. */
    @Test
    void closeWakesABlockedConsumer() throws Exception {
        DataPipeline p = new DataPipeline(new MixtureSampler(List.of(errorSource(1_000_000)), 1), enc(false),
                new SequencePacker(new SequencePacker.Config(1, 32, 1, 4)), 1, 1);
        p.close(); // e.g. shutdown hook / another thread
        Thread consumer = new Thread(() -> {
            try {
                for (int i = 0; i < 100; i++) {
                    p.next();
                }
            } catch (Throwable expected) {
                // fine: closed
            }
        });
        consumer.setDaemon(true);
        consumer.start();
        consumer.join(3000);
        assertFalse(consumer.isAlive(), "next() after close() blocks forever");
    }
}
