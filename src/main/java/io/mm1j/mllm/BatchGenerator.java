package io.mm1j.mllm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.Mm1Exception;
import io.mm1j.llm.CpuDecoder;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Decoder;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.KvCache;
import io.mm1j.tokenizer.Tokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous batching over one {@link Generator}'s model: concurrent generations share decode steps. One scheduler
 * thread runs a loop of iterations; in each, requests that arrived since the last one join (their images encoded,
 * their prompts prefilled together in one batched pass), every running request samples its next token from its own
 * logits with its own {@link GenerationConfig} (temperature, top-p, seed, stop rules, max tokens), finished and
 * cancelled requests leave and free their KV caches, and the rest advance by one batched decode step: on the CPU path
 * {@link CpuDecoder#step(CpuDecoder.Sequence[], int[])} (each weight row multiplied by all inputs while it is in
 * cache), on the DJL path {@link Decoder#stepBatch} (one matrix product per projection over the batch).
 *
 * <p>Each request gets exactly what {@link Generator#generate(Prompt, GenerationConfig, TokenListener)} would give it
 * alone on the CPU path (the batched kernels keep every sequence's arithmetic independent of the batch; images of
 * requests arriving together are encoded in one batch, which libtorch may round differently), and the same text,
 * stop handling and finish reasons on both paths. At most {@code maxBatch} requests run at once; later ones
 * wait in arrival order. On the DJL path prompts are prefilled one by one (prompts of different lengths would need
 * padding), only the decode steps are batched.
 */
public final class BatchGenerator implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BatchGenerator.class);

    /** A request's side of a generation. Every callback runs on the scheduler thread. */
    public interface Client extends TokenListener {
        /** Polled before each step: true drops the request (client gone, deadline passed) and frees its cache. */
        default boolean cancelled() {
            return false;
        }

        /** The request left the waiting queue and joins the batch (its images are encoded next). */
        default void started() {}

        /** The generation ended ({@link Generator#CANCELLED} when {@link #cancelled} or the listener stopped it). */
        void done(Generator.Result result);

        /** The generation failed (bad prompt, a fault in the model); nothing else is called afterwards. */
        void failed(RuntimeException error);
    }

    private final Generator generator;
    private final Decoder decoder;
    private final Tokenizer tok;
    private final int maxBatch;
    private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
    private final Thread thread;
    private volatile int running;
    private boolean closed;

    private record Waiting(Prompt prompt, GenerationConfig cfg, Client client) {}

    /**
     * @param generator a generator made from a model (it gives the tokenizer, the image pipeline and the path)
     * @param maxBatch  requests decoded together at most
     */
    public BatchGenerator(Generator generator, int maxBatch) {
        if (generator.tokenizer() == null) {
            throw new IllegalStateException("continuous batching needs a Generator made from a model");
        }
        if (maxBatch < 1) {
            throw new Mm1Exception("the batch size must be at least 1, got " + maxBatch);
        }
        this.generator = generator;
        this.decoder = generator.decoder();
        this.tok = generator.tokenizer();
        this.maxBatch = maxBatch;
        this.thread = new Thread(this::loop, "mm1-batch");
        thread.setDaemon(true);
        thread.start();
    }

    public int maxBatch() {
        return maxBatch;
    }

    /** Requests being decoded now. */
    public int running() {
        return running;
    }

    /** Requests waiting for a place in the batch. */
    public synchronized int waiting() {
        return waiting.size();
    }

    /**
     * Queues a generation; it joins the batch at the next step with a free place. A prompt that cannot fit the
     * context with its max tokens is refused here, before queueing.
     */
    public void submit(Prompt prompt, GenerationConfig cfg, Client client) {
        generator.checkRoom(prompt.length(), cfg.maxTokens());
        synchronized (this) {
            if (closed) {
                throw new Mm1Exception("the batch generator is closed");
            }
            waiting.add(new Waiting(prompt, cfg, client));
            notifyAll();
        }
    }

    /** Removes {@code client}'s request if it is still waiting (nothing is called back); false otherwise. */
    public synchronized boolean withdraw(Client client) {
        return waiting.removeIf(w -> w.client == client);
    }

    /**
     * Stops the scheduler after its current step (running and waiting requests end as cancelled), waiting for it up
     * to a minute; see {@link #stopped}.
     */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        try {
            thread.join(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("the batch scheduler is still in a step after a minute; it stops when the step ends");
        }
    }

    /** True once the scheduler thread has ended: only then may the model and tokenizer be closed. */
    public boolean stopped() {
        return !thread.isAlive();
    }

    // ---------------------------------------------------------------- the scheduler thread

    private void loop() {
        List<Active> active = new ArrayList<>();
        Batch batch = new Batch();
        try {
            while (true) {
                List<Waiting> fresh = new ArrayList<>();
                synchronized (this) {
                    while (!closed && active.isEmpty() && waiting.isEmpty()) {
                        wait();
                    }
                    if (closed) {
                        break;
                    }
                    while (!waiting.isEmpty() && active.size() + fresh.size() < maxBatch) {
                        fresh.add(waiting.poll());
                    }
                }
                try {
                    BlockScope.noGrad(() -> {
                        iterate(active, fresh, batch);
                        return null;
                    });
                } catch (RuntimeException | Error e) { // a fault in the model: every request in flight fails
                    LOG.error("batched generation failed", e);
                    RuntimeException err = e instanceof RuntimeException re ? re
                            : new IllegalStateException(e.toString(), e);
                    running = 0;
                    for (Active a : active) {
                        a.free();
                        fail(a.client, err);
                    }
                    active.clear();
                }
                if (active.isEmpty()) {
                    batch.release();
                }
                running = active.size();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            List<Waiting> left;
            synchronized (this) {
                closed = true;
                left = new ArrayList<>(waiting);
                waiting.clear();
            }
            running = 0;
            for (Active a : active) {
                a.free();
                finish(a.client, a.result(Generator.CANCELLED));
            }
            batch.release();
            for (Waiting w : left) {
                finish(w.client, empty(w.prompt, Generator.CANCELLED));
            }
        }
    }

    /** Where the running batch decodes: a CPU snapshot held while the batch is non-empty, or DJL. */
    private final class Batch {
        CpuDecoder cpu;

        /** The CPU decoder for a new request of {@code capacity} positions, or null for DJL. */
        CpuDecoder cpuFor(int capacity) {
            if (generator.path() != DecodePath.CPU) {
                return null;
            }
            if (cpu == null) {
                CpuDecoder c = decoder.cpuDecoder(capacity);
                if (c != null && c.acquire()) {
                    cpu = c;
                }
            }
            return cpu;
        }

        void release() {
            if (cpu != null) {
                cpu.release();
                cpu = null;
            }
        }
    }

    private static void finish(Client c, Generator.Result r) {
        try {
            c.done(r);
        } catch (RuntimeException e) {
            LOG.warn("a client's done() failed", e);
        }
    }

    private static void fail(Client c, RuntimeException err) {
        try {
            c.failed(err);
        } catch (RuntimeException e) {
            LOG.warn("a client's failed() failed", e);
        }
    }

    private static Generator.Result empty(Prompt p, String reason) {
        return new Generator.Result("", new long[0], p.length(), p.imageTokenCount(), 0, reason, null, -1, 0, 0, 0);
    }

    /** One scheduler iteration: admit, sample and emit, retire, then one batched decode step. */
    private void iterate(List<Active> active, List<Waiting> fresh, Batch batch) {
        ReentrantLock lock = Generator.lock(decoder); // image encoding and DJL share the model with other generators
        lock.lock();
        try (NDScope scope = new NDScope()) {
            admit(active, fresh, batch);
            for (Iterator<Active> it = active.iterator(); it.hasNext(); ) {
                Active a = it.next();
                String reason = a.client.cancelled() ? Generator.CANCELLED : a.advance();
                if (reason != null) {
                    it.remove();
                    a.free();
                    running = active.size(); // counted out before its client hears it is done
                    finish(a.client, a.result(reason));
                }
            }
            if (!active.isEmpty()) {
                step(active, batch);
            }
            scope.suppressNotUsedWarning();
        } finally {
            lock.unlock();
        }
    }

    /** Starts the fresh requests: images encoded, prompts prefilled in one batched pass, first logits ready. */
    private void admit(List<Active> active, List<Waiting> fresh, Batch batch) {
        List<Waiting> starting = new ArrayList<>();
        for (Waiting w : fresh) {
            if (w.client.cancelled()) {
                finish(w.client, empty(w.prompt, Generator.CANCELLED));
                continue;
            }
            w.client.started();
            if (w.cfg.maxTokens() == 0) {
                finish(w.client, empty(w.prompt, Generator.LENGTH));
                continue;
            }
            starting.add(w);
        }
        // the newcomers' pictures are encoded together; if that fails, each prompt alone, so a bad one fails alone
        List<Prompt> withImages = starting.stream().map(Waiting::prompt).filter(Prompt::hasImages).toList();
        java.util.Map<Prompt, NDArray> spliced = new java.util.IdentityHashMap<>();
        long e0 = System.nanoTime();
        if (withImages.size() > 1) {
            try {
                List<NDArray> all = generator.spliced(withImages);
                for (int i = 0; i < all.size(); i++) {
                    spliced.put(withImages.get(i), all.get(i));
                }
            } catch (RuntimeException e) {
                spliced.clear();
            }
        }
        double sharedEncodeMs = (System.nanoTime() - e0) / 1e6;
        List<Active> joined = new ArrayList<>();
        for (Waiting w : starting) {
            try {
                long t0 = System.nanoTime();
                NDArray embeds = spliced.get(w.prompt);
                double encodeMs = sharedEncodeMs;
                if (embeds == null && w.prompt.hasImages()) {
                    embeds = generator.spliced(w.prompt);
                    encodeMs = (System.nanoTime() - t0) / 1e6;
                }
                joined.add(new Active(w, batch, embeds, w.prompt.hasImages() ? encodeMs : 0));
            } catch (RuntimeException e) {
                fail(w.client, e);
            }
        }
        if (joined.isEmpty()) {
            return;
        }
        long t0 = System.nanoTime();
        try {
            List<Active> onCpu = joined.stream().filter(a -> a.seq != null).toList();
            if (!onCpu.isEmpty()) {
                CpuDecoder.Sequence[] seqs = onCpu.stream().map(a -> a.seq).toArray(CpuDecoder.Sequence[]::new);
                float[][] rows = onCpu.stream().map(a -> a.rows).toArray(float[][]::new);
                float[][] logits;
                synchronized (batch.cpu) {
                    logits = batch.cpu.prefill(seqs, rows);
                }
                for (int i = 0; i < logits.length; i++) {
                    onCpu.get(i).logits = logits[i];
                    onCpu.get(i).rows = null;
                }
            }
            for (Active a : joined) {
                if (a.kv != null) {
                    a.logits = prefillDjl(a);
                }
            }
        } catch (RuntimeException e) {
            for (Active a : joined) {
                a.free();
                fail(a.client, e);
            }
            return;
        }
        long t1 = System.nanoTime();
        for (Active a : joined) {
            a.prefillMs = (t1 - t0) / 1e6;
            a.decodeStart = t1;
        }
        active.addAll(joined);
    }

    private float[] prefillDjl(Active a) {
        NDManager m = decoder.params().manager();
        long[] ids = a.prompt.ids();
        NDArray embeds = a.embeds != null ? a.embeds : decoder.embed(m.create(ids, new Shape(1, ids.length)));
        a.embeds = null;
        return floats(decoder.forward(embeds, null, a.kv, true).logits()); // (1, 1, V)
    }

    private static float[] floats(NDArray a) {
        return a.getDataType() == DataType.FLOAT32 ? a.toFloatArray() : a.toType(DataType.FLOAT32, false)
                .toFloatArray();
    }

    /** One decode step of every running request (each has its next input id). */
    private void step(List<Active> active, Batch batch) {
        List<Active> cpu = active.stream().filter(a -> a.seq != null).toList();
        if (!cpu.isEmpty()) {
            CpuDecoder.Sequence[] seqs = cpu.stream().map(a -> a.seq).toArray(CpuDecoder.Sequence[]::new);
            int[] ids = cpu.stream().mapToInt(a -> a.next).toArray();
            float[] logits;
            synchronized (batch.cpu) {
                logits = batch.cpu.step(seqs, ids);
            }
            int v = logits.length / seqs.length;
            for (int i = 0; i < seqs.length; i++) {
                cpu.get(i).logits = java.util.Arrays.copyOfRange(logits, i * v, (i + 1) * v);
            }
        }
        List<Active> djl = active.stream().filter(a -> a.kv != null).toList();
        if (!djl.isEmpty()) {
            NDManager m = decoder.params().manager();
            long[] ids = djl.stream().mapToLong(a -> a.next).toArray();
            NDArray h = decoder.embed(m.create(ids, new Shape(ids.length, 1))); // (B, 1, D)
            float[] logits = floats(decoder.stepBatch(h, djl.stream().map(a -> a.kv).toArray(KvCache[]::new)));
            int v = logits.length / ids.length;
            for (int i = 0; i < ids.length; i++) {
                djl.get(i).logits = java.util.Arrays.copyOfRange(logits, i * v, (i + 1) * v);
            }
        }
    }

    /** A request in the batch: its cache, sampler, text stream and what it produced so far. */
    private final class Active {
        final Client client;
        final Prompt prompt;
        final GenerationConfig cfg;
        final Sampler sampler;
        final Set<Integer> stopIds = new HashSet<>();
        final TextStream text;
        final List<Long> ids = new ArrayList<>();
        final double encodeMs;
        CpuDecoder.Sequence seq; // CPU path
        float[] rows; // CPU path: prompt embeddings until prefilled
        KvCache kv; // DJL path
        NDArray embeds; // DJL path: spliced prompt embeddings until prefilled
        float[] logits;
        int next;
        int stopId = -1;
        double prefillMs;
        long decodeStart;

        /** @param spliced the prompt's (1, T, D) embeddings with its images, or null for a text prompt */
        Active(Waiting w, Batch batch, NDArray spliced, double encodeMs) {
            this.client = w.client;
            this.prompt = w.prompt;
            this.cfg = w.cfg;
            this.text = new TextStream(tok::decode, generator.stops(cfg, stopIds),
                    cfg.continuesPrompt() ? TextStream.context(prompt) : new long[0]);
            this.sampler = Sampler.of(cfg, prompt.ids());
            this.encodeMs = encodeMs;
            int capacity = prompt.length() + cfg.maxTokens();
            CpuDecoder cpu = batch.cpuFor(capacity);
            if (cpu != null) {
                Runtime rt = Runtime.getRuntime();
                long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
                if (cpu.sequenceBytes(capacity) > free / 2) {
                    throw new Mm1Exception("not enough heap for another request's KV cache (" + cpu.sequenceBytes(
                            capacity) + " bytes for " + capacity + " positions, " + free + " free): lower the batch "
                            + "size (--max-batch) or max tokens, or raise -Xmx");
                }
                seq = cpu.newSequence(capacity);
                if (spliced != null) {
                    rows = spliced.toType(DataType.FLOAT32, false).toFloatArray();
                } else {
                    int[] ids = new int[prompt.length()];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = Math.toIntExact(prompt.ids()[i]);
                    }
                    rows = cpu.embeddings(ids);
                }
            } else {
                embeds = spliced;
                kv = decoder.newCache(1, capacity);
            }
        }

        /**
         * Samples the next token from {@link #logits} and emits it, as {@link Generator} does; returns the finish
         * reason when the request is done, else null (then {@link #next} is the input of the next step).
         */
        String advance() {
            int id = sampler.sample(logits);
            if (stopIds.contains(id)) {
                stopId = id;
                return end();
            }
            ids.add((long) id);
            if (!client.onToken(id, text.push(id))) {
                return Generator.CANCELLED;
            }
            if (text.matchedStop() != null || ids.size() == cfg.maxTokens()) {
                return end();
            }
            next = id;
            return null;
        }

        /** A natural end (stop or length): held-back text is flushed first. */
        private String end() {
            String tail = text.finish();
            if (!tail.isEmpty()) {
                client.onToken(TokenListener.END, tail);
            }
            return text.matchedStop() != null || stopId >= 0 ? Generator.STOP : Generator.LENGTH;
        }

        Generator.Result result(String reason) {
            return new Generator.Result(text.text(), ids.stream().mapToLong(Long::longValue).toArray(),
                    prompt.length(), prompt.imageTokenCount(), ids.size(), reason,
                    text.matchedStop(), stopId, encodeMs, prefillMs,
                    decodeStart == 0 ? 0 : (System.nanoTime() - decodeStart) / 1e6);
        }

        /** Frees the KV cache. */
        void free() {
            seq = null;
            rows = null;
            logits = null;
            if (kv != null) {
                kv.close();
                kv = null;
            }
        }
    }
}
