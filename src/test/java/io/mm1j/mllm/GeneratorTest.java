package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.llm.DecodePath;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The generation loop on a tiny random model: finish reasons, stop strings on decoded text, the image cache. */
class GeneratorTest extends TinyModelTest {
    /** A sampled run without model stops, so that the text is long enough to cut. */
    static GenerationConfig.Builder sampled(int n) {
        return GenerationConfig.builder().maxTokens(n).temperature(1).seed(11);
    }

    static Generator.Result run(Prompt p, GenerationConfig cfg, StringBuilder deltas, DecodePath path) {
        return new Generator(model, tok, path).generate(p, cfg, (id, text) -> {
            deltas.append(text);
            return true;
        });
    }

    @Test
    void aStopStringAcrossTokensEndsTheTextBeforeIt() {
        Prompt p = new PromptBuilder(model, tok).fromText("the", List.of());
        for (DecodePath path : DecodePath.values()) {
            StringBuilder all = new StringBuilder();
            Generator.Result full = run(p, sampled(24).build(), all, path);
            assertEquals(full.text(), all.toString(), "deltas add up to the text");
            String text = full.text();
            // a stop string that starts inside one token's text and ends inside a later one
            String first = tok.decode(new long[] {full.ids()[0]});
            String firstTwo = tok.decode(java.util.Arrays.copyOf(full.ids(), 2));
            assertTrue(first.length() >= 1 && firstTwo.length() > first.length() && text.length() > firstTwo.length(),
                    "random model text too short to test: '" + text + "'");
            int from = first.length() - 1;
            String stop = text.substring(from, Math.min(text.length(), firstTwo.length() + 1));
            int at = text.indexOf(stop);
            StringBuilder cut = new StringBuilder();
            Generator.Result r = run(p, sampled(24).stopStrings(List.of(stop)).build(), cut, path);
            assertEquals(text.substring(0, at), r.text(), path + ": text before the stop '" + stop + "'");
            assertEquals(r.text(), cut.toString(), "no piece of the stop string was streamed");
            assertEquals(Generator.STOP, r.finishReason());
            assertEquals(stop, r.stopString());
        }
    }

    @Test
    void lengthCancelAndStopIdFinishReasons() {
        Prompt p = new PromptBuilder(model, tok).fromText("a", List.of());
        Generator g = new Generator(model, tok, DecodePath.CPU);
        Generator.Result len = g.generate(p, sampled(5).build(), TokenListener.NONE);
        assertEquals(Generator.LENGTH, len.finishReason());
        assertEquals(5, len.completionTokens());
        assertEquals(p.length(), len.promptTokens());

        int[] seen = {0};
        Generator.Result cancelled = g.generate(p, sampled(20).build(), (id, text) -> ++seen[0] < 2);
        assertEquals(Generator.CANCELLED, cancelled.finishReason());
        assertEquals(2, cancelled.completionTokens());
        assertArrayEquals(java.util.Arrays.copyOf(len.ids(), 2), cancelled.ids(), "same seed, same tokens");

        int third = (int) len.ids()[2];
        Generator.Result stopped = g.generate(p, sampled(5).stopIds(Set.of(third)).build(), TokenListener.NONE);
        assertEquals(Generator.STOP, stopped.finishReason());
        assertEquals(third, stopped.stopId());
        assertNull(stopped.stopString());
        assertEquals(2, stopped.completionTokens(), "the stop id is not part of the output");
    }

    @Test
    void imagesAreEncodedOncePerContentWithACache() {
        PromptBuilder b = new PromptBuilder(model, tok);
        Prompt p = b.fromText("<image> a", List.of(image));
        GenerationConfig cfg = GenerationConfig.greedy(4);
        ImageEmbeddingCache cache = new ImageEmbeddingCache(2);
        Generator cached = new Generator(model, tok, DecodePath.CPU, cache);
        Generator.Result a = cached.generate(p, cfg, TokenListener.NONE);
        Generator.Result again = cached.generate(p, cfg, TokenListener.NONE);
        assertEquals(1, cache.misses());
        assertEquals(1, cache.hits());
        Generator.Result plain = new Generator(model, tok, DecodePath.CPU).generate(p, cfg, TokenListener.NONE);
        assertArrayEquals(plain.ids(), a.ids());
        assertArrayEquals(plain.ids(), again.ids());
        assertEquals(model.imageTokens(), a.imageTokens());
        assertEquals(p.length(), a.promptTokens());
        assertFalse(Double.isNaN(a.prefillMs()));
    }

    @Test
    void bothDecodePathsAgreeOnAnImagePrompt() {
        Prompt p = new PromptBuilder(model, tok).fromText("<image> x <image>", List.of(image, image));
        GenerationConfig cfg = GenerationConfig.builder().maxTokens(6).stopIds(Set.of()).build();
        assertArrayEquals(new Generator(model, tok, DecodePath.DJL).generate(p, cfg, TokenListener.NONE).ids(),
                new Generator(model, tok, DecodePath.CPU).generate(p, cfg, TokenListener.NONE).ids());
    }

    @Test
    void concurrentCallersGetTheirOwnResults() throws Exception {
        PromptBuilder b = new PromptBuilder(model, tok);
        List<Prompt> prompts = List.of(b.fromText("a", List.of()), b.fromText("<image> b", List.of(image)),
                b.fromText("the the", List.of()), b.fromText("x <image>", List.of(image)));
        GenerationConfig cfg = sampled(6).stopIds(Set.of()).build();
        Generator shared = new Generator(model, tok, DecodePath.CPU, new ImageEmbeddingCache(4));
        List<long[]> sequential = prompts.stream().map(p -> shared.generate(p, cfg, TokenListener.NONE).ids()).toList();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<long[]>> futures = new java.util.ArrayList<>();
            for (int round = 0; round < 3; round++) {
                for (Prompt p : prompts) {
                    futures.add(pool.submit(() -> shared.generate(p, cfg, TokenListener.NONE).ids()));
                }
            }
            for (int i = 0; i < futures.size(); i++) {
                assertArrayEquals(sequential.get(i % prompts.size()), futures.get(i).get(),
                        "call " + i + " saw another caller's state");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aWaitingCallerThatIsInterruptedIsCancelledBeforeAnyWork() throws Exception {
        Prompt p = new PromptBuilder(model, tok).fromText("a", List.of());
        Generator g = new Generator(model, tok, DecodePath.CPU);
        java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        Thread first = new Thread(() -> g.generate(p, sampled(3).build(), (id, text) -> {
            running.countDown();
            try {
                release.await(); // holds the model while the second caller waits
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return true;
        }));
        first.start();
        running.await();
        Generator.Result[] second = new Generator.Result[1];
        Thread waiting = new Thread(() -> second[0] = g.generate(p, sampled(3).build(), TokenListener.NONE));
        waiting.start();
        while (waiting.getState() != Thread.State.WAITING) {
            Thread.sleep(5);
        }
        waiting.interrupt();
        waiting.join();
        release.countDown();
        first.join();
        assertEquals(Generator.CANCELLED, second[0].finishReason());
        assertEquals(0, second[0].completionTokens());
    }
}
