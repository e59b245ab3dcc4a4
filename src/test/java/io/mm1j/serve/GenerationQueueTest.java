package io.mm1j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What a job counts and streams: a token per delta, and held-back text at the end without a token of its own. */
class GenerationQueueTest {
    @Test
    void heldBackTextAtTheEndIsStreamedButNotCountedAsAToken() throws Exception {
        for (boolean batching : new boolean[] {false, true}) {
            ScriptedBackend b = new ScriptedBackend().tail("!");
            if (batching) {
                b.batching(2);
            }
            try (GenerationQueue q = new GenerationQueue(b, 4, new ServerMetrics())) {
                long now = System.nanoTime();
                GenerationQueue.Job job = q.new Job(new ChatBackend.TextInput("hi"),
                        new Sampling(5, 0, 1, 0, 0, 1, 1L, List.of()), 5, now, now + TimeUnit.SECONDS.toNanos(30));
                q.submit(job);
                StringBuilder streamed = new StringBuilder();
                while (true) {
                    GenerationQueue.Event e = job.events.poll(30, TimeUnit.SECONDS);
                    if (e instanceof GenerationQueue.Delta d) {
                        streamed.append(d.text());
                    } else {
                        GenerationQueue.Done done = (GenerationQueue.Done) e;
                        assertEquals("w0 w1 w2 w3 w4!", done.completion().text(), "batching " + batching);
                        assertEquals(5, done.completion().completionTokens(), "batching " + batching);
                        break;
                    }
                }
                assertEquals("w0 w1 w2 w3 w4!", streamed.toString(), "batching " + batching);
                assertEquals(5, job.tokens(), "the tail is no token (batching " + batching + ")");
            } finally {
                b.close();
            }
        }
    }
}
