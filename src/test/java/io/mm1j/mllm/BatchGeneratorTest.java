package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.llm.DecodePath;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching on a tiny random MM1 model: requests decoded together give what each gives alone through
 * {@link Generator} (both paths), per-request limits and stop strings hold, a request can join a running batch, and a
 * cancelled one leaves at once and frees its place.
 */
class BatchGeneratorTest extends TinyModelTest {
    /** Collects one request's deltas and result. */
    static class Collect implements BatchGenerator.Client {
        final StringBuilder deltas = new StringBuilder();
        final CompletableFuture<Generator.Result> result = new CompletableFuture<>();
        final AtomicInteger tokens = new AtomicInteger();
        volatile boolean cancel;
        volatile CountDownLatch afterTokens;

        @Override
        public boolean onToken(int id, String textDelta) {
            deltas.append(textDelta);
            if (id != TokenListener.END) {
                tokens.incrementAndGet();
            }
            if (afterTokens != null) {
                afterTokens.countDown();
            }
            return true;
        }

        @Override
        public boolean cancelled() {
            return cancel;
        }

        @Override
        public void done(Generator.Result r) {
            result.complete(r);
        }

        @Override
        public void failed(RuntimeException e) {
            result.completeExceptionally(e);
        }

        Generator.Result get() throws Exception {
            return result.get(60, TimeUnit.SECONDS);
        }
    }

    private static List<Prompt> prompts() {
        PromptBuilder b = new PromptBuilder(model, tok);
        return List.of(b.fromText("the", List.of()), b.fromText("a picture of", List.of()),
                b.fromText("<image> what is this", List.of(image)), b.fromText("once upon a time there was", List.of()));
    }

    /** Greedy with the model's stops off, a different max per request, one with a sampled setting. */
    private static List<GenerationConfig> configs() {
        return List.of(GenerationConfig.builder().maxTokens(12).build(), GenerationConfig.builder().maxTokens(5).build(),
                GenerationConfig.builder().maxTokens(9).build(),
                GenerationConfig.builder().maxTokens(10).temperature(0.9).topP(0.9).seed(7).build());
    }

    @Test
    void requestsDecodedTogetherGiveWhatEachGivesAlone() throws Exception {
        List<Prompt> prompts = prompts();
        List<GenerationConfig> cfgs = configs();
        for (DecodePath path : DecodePath.values()) {
            Generator g = new Generator(model, tok, path);
            List<Generator.Result> alone = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                alone.add(g.generate(prompts.get(i), cfgs.get(i), TokenListener.NONE));
            }
            try (BatchGenerator batch = new BatchGenerator(g, 8)) {
                List<Collect> clients = new ArrayList<>();
                for (int i = 0; i < prompts.size(); i++) {
                    Collect c = new Collect();
                    clients.add(c);
                    batch.submit(prompts.get(i), cfgs.get(i), c);
                }
                for (int i = 0; i < prompts.size(); i++) {
                    Generator.Result r = clients.get(i).get();
                    String what = path + " request " + i;
                    assertArrayEquals(alone.get(i).ids(), r.ids(), what);
                    assertEquals(alone.get(i).text(), r.text(), what);
                    assertEquals(r.text(), clients.get(i).deltas.toString(), what + ": deltas add up to the text");
                    assertEquals(alone.get(i).finishReason(), r.finishReason(), what);
                    assertEquals(alone.get(i).promptTokens(), r.promptTokens(), what);
                    assertTrue(r.completionTokens() <= cfgs.get(i).maxTokens(), what);
                }
                assertEquals(5, clients.get(1).get().completionTokens(), "max tokens 5 of a request that runs on");
                assertEquals(Generator.LENGTH, clients.get(1).get().finishReason());
            }
        }
    }

    @Test
    void aStopStringEndsOnlyItsOwnRequest() throws Exception {
        Prompt p = prompts().get(0);
        Generator g = new Generator(model, tok, DecodePath.CPU);
        GenerationConfig plain = GenerationConfig.builder().maxTokens(16).build();
        String full = g.generate(p, plain, TokenListener.NONE).text();
        assertTrue(full.length() > 6, "random model text too short to cut: '" + full + "'");
        String stop = full.substring(3, 5);
        String expected = full.substring(0, full.indexOf(stop));
        try (BatchGenerator batch = new BatchGenerator(g, 4)) {
            Collect stopped = new Collect();
            Collect free = new Collect();
            batch.submit(p, plain.toBuilder().stopStrings(List.of(stop)).build(), stopped);
            batch.submit(p, plain, free);
            assertEquals(expected, stopped.get().text());
            assertEquals(Generator.STOP, stopped.get().finishReason());
            assertEquals(stop, stopped.get().stopString());
            assertEquals(expected, stopped.deltas.toString(), "text before the stop string is streamed, not more");
            assertEquals(full, free.get().text());
        }
    }

    @Test
    void aRequestJoinsARunningBatchAndGetsItsOwnAnswer() throws Exception {
        List<Prompt> prompts = prompts();
        Generator g = new Generator(model, tok, DecodePath.CPU);
        GenerationConfig longRun = GenerationConfig.builder().maxTokens(60).stopIds(java.util.Set.of()).build();
        GenerationConfig shortRun = GenerationConfig.builder().maxTokens(8).build();
        Generator.Result aloneA = g.generate(prompts.get(3), longRun, TokenListener.NONE);
        Generator.Result aloneB = g.generate(prompts.get(2), shortRun, TokenListener.NONE);
        try (BatchGenerator batch = new BatchGenerator(g, 4)) {
            CountDownLatch bSubmitted = new CountDownLatch(1);
            Collect a = new Collect() {
                @Override
                public boolean onToken(int id, String textDelta) {
                    boolean go = super.onToken(id, textDelta);
                    if (tokens.get() == 3) { // hold the scheduler inside a's third token until b has been queued
                        try {
                            assertTrue(bSubmitted.await(60, TimeUnit.SECONDS));
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return go;
                }
            };
            a.afterTokens = new CountDownLatch(3);
            batch.submit(prompts.get(3), longRun, a);
            assertTrue(a.afterTokens.await(60, TimeUnit.SECONDS));
            Collect b = new Collect();
            AtomicInteger aTokensWhenBStarted = new AtomicInteger(-1);
            b.afterTokens = new CountDownLatch(1);
            batch.submit(prompts.get(2), shortRun, new Collect() {
                @Override
                public void started() {
                    aTokensWhenBStarted.set(a.tokens.get());
                }

                @Override
                public boolean onToken(int id, String d) {
                    return b.onToken(id, d);
                }

                @Override
                public void done(Generator.Result r) {
                    b.done(r);
                }

                @Override
                public void failed(RuntimeException e) {
                    b.failed(e);
                }
            });
            bSubmitted.countDown();
            Generator.Result rb = b.get();
            Generator.Result ra = a.get();
            assertTrue(aTokensWhenBStarted.get() == 3 && ra.completionTokens() > 3,
                    "b joined while a was running: a had " + aTokensWhenBStarted.get() + " of "
                            + ra.completionTokens() + " tokens");
            assertArrayEquals(aloneA.ids(), ra.ids());
            assertArrayEquals(aloneB.ids(), rb.ids());
        }
    }

    @Test
    void aCancelledRequestLeavesAtOnceAndFreesItsPlace() throws Exception {
        Prompt p = prompts().get(0);
        Generator g = new Generator(model, tok, DecodePath.CPU);
        GenerationConfig endless = GenerationConfig.builder().maxTokens(100).stopIds(java.util.Set.of())
                .temperature(1).seed(1).build();
        try (BatchGenerator batch = new BatchGenerator(g, 1)) { // one place: the second request waits for it
            CountDownLatch checked = new CountDownLatch(1);
            Collect first = new Collect() {
                @Override
                public boolean onToken(int id, String textDelta) {
                    boolean go = super.onToken(id, textDelta);
                    if (tokens.get() == 2) { // hold the scheduler until the test has looked at the queue
                        try {
                            assertTrue(checked.await(60, TimeUnit.SECONDS));
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return go;
                }
            };
            first.afterTokens = new CountDownLatch(2);
            batch.submit(p, endless, first);
            assertTrue(first.afterTokens.await(60, TimeUnit.SECONDS));
            Collect second = new Collect();
            batch.submit(p, GenerationConfig.builder().maxTokens(3).build(), second);
            assertEquals(1, batch.waiting());
            assertEquals(1, batch.running());
            first.cancel = true;
            checked.countDown();
            Generator.Result r1 = first.get();
            assertEquals(Generator.CANCELLED, r1.finishReason());
            assertEquals(2, r1.completionTokens(), "stopped at the step after the cancel");
            Generator.Result r2 = second.get();
            assertNotNull(r2);
            assertEquals(0, batch.waiting());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (batch.running() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(0, batch.running());
            // a request cancelled while it waits never runs
            AtomicBoolean ran = new AtomicBoolean();
            Collect blocker = new Collect();
            blocker.afterTokens = new CountDownLatch(1);
            batch.submit(p, endless, blocker);
            assertTrue(blocker.afterTokens.await(60, TimeUnit.SECONDS));
            Collect gone = new Collect() {
                @Override
                public void started() {
                    ran.set(true);
                }
            };
            gone.cancel = true;
            batch.submit(p, endless, gone);
            blocker.cancel = true;
            assertEquals(Generator.CANCELLED, gone.get().finishReason());
            assertEquals(0, gone.get().completionTokens());
            assertTrue(!ran.get(), "a cancelled waiting request is not started");
        }
    }
}
