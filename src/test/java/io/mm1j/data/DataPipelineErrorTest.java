package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.mm1j.Mm1Exception;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Errors raised while the prefetch queues are full (the steady state) must reach the training thread. */
class DataPipelineErrorTest {
    static MixtureSampler.Source failingAfter(int n) {
        return new MixtureSampler.Source("text", 1.0, () -> new Iterator<Sample>() {
            int i;
            public boolean hasNext() { return true; }
            public Sample next() {
                if (i == n) {
                    throw new Mm1Exception("corrupt.jsonl:" + (i + 1) + ": bad JSON (strict)");
                }
                i++;
                return new Sample.Text("t" + i, "hello world " + i);
            }
        });
    }

    /** Sampler error while the queues are full (the steady state: training is slower than data). */
    @Test
    void samplerErrorWithFullQueuesReachesTheTrainingThread() throws Exception {
        SampleEncoder enc = new SampleEncoder(t -> t.chars().mapToLong(ch -> 8 + (ch & 0xFF)).toArray(),
                SampleEncoder.resizeToUnit(8));
        try (DataPipeline p = new DataPipeline(new MixtureSampler(List.of(failingAfter(40)), 1), enc,
                new SequencePacker(new SequencePacker.Config(1, 32, 1, 4)), 1, 1)) {
            Thread.sleep(300); // training step: the queues fill up
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(Mm1Exception.class, () -> {
                for (int i = 0; i < 1000; i++) {
                    p.next();
                }
            }));
        }
    }

    /**
     * Worker (encode) error while the batch queue is full: a programming error stops the pipeline and reaches the
     * training thread (bad data items are skipped only by a pipeline made with {@code skipFailing}, below).
     */
    @Test
    void workerErrorWithFullBatchQueueReachesTheTrainingThread() throws Exception {
        SampleEncoder enc = failingOnSample30(() -> new IllegalStateException("encoder bug"));
        try (DataPipeline p = new DataPipeline(new MixtureSampler(List.of(failingAfter(100000)), 1), enc,
                new SequencePacker(new SequencePacker.Config(1, 32, 1, 4)), 1, 1)) {
            Thread.sleep(300);
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(IllegalStateException.class, () -> {
                for (int i = 0; i < 150; i++) {
                    p.next();
                    Thread.sleep(10); // a training step

                }
            }));
        }
    }

    /** In training mode a bad item (an Mm1Exception while encoding) is counted and skipped; the stream goes on. */
    @Test
    void skippingPipelineCountsABadItemAndKeepsGoing() throws Exception {
        SampleEncoder enc = failingOnSample30(() -> new Mm1Exception("image.jpg: corrupt"));
        try (DataPipeline p = new DataPipeline(new MixtureSampler(List.of(failingAfter(100000)), 1), enc,
                new SequencePacker(new SequencePacker.Config(1, 32, 1, 4)), 1, 1, true)) {
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                for (int i = 0; i < 60; i++) {
                    p.next();
                }
            });
            org.junit.jupiter.api.Assertions.assertEquals(1, p.failedSamples());
        }
    }

    /** An encoder of byte ids that throws what {@code error} makes on the text of sample 30 ("hello world 30"). */
    private static SampleEncoder failingOnSample30(java.util.function.Supplier<RuntimeException> error) {
        return new SampleEncoder(t -> {
            if (t.endsWith(" 30")) {
                throw error.get();
            }
            return t.chars().mapToLong(ch -> 8 + (ch & 0xFF)).toArray();
        }, SampleEncoder.resizeToUnit(8));
    }
}
