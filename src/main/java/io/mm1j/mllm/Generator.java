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
import io.mm1j.vision.RgbImage;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * The one generation loop (chat, serve, generate, eval): encode the prompt's images (through an optional
 * {@link ImageEmbeddingCache}), splice them in, prefill the whole prompt in one batched pass, then decode one
 * token per step with the KV cache, sampling as {@link GenerationConfig} says and streaming text deltas to a
 * {@link TokenListener} that can stop it.
 *
 * <p>The decode path is an explicit choice: {@link DecodePath#CPU} runs the plain-Java {@link CpuDecoder} where the
 * model allows it (dense, float32, CPU) and DJL otherwise; {@link DecodePath#DJL} always runs
 * {@link Decoder#forward} with a {@link KvCache}.
 *
 * <p>Thread-safety: a Generator is immutable and may be shared. Generations on one model are serialised (a fair
 * lock per decoder, FIFO): the CPU path shares one weight snapshot and KV cache per model, and image encoding and
 * the DJL path share the model's parameter manager. Concurrent callers therefore never see each other's state;
 * they wait their turn (continuous batching is issue F2); interrupting a waiting caller's thread ends its call with
 * finish reason "cancelled" before any work.
 */
public final class Generator {
    /** Why a generation ended, as OpenAI names it. */
    public static final String STOP = "stop";
    public static final String LENGTH = "length";
    public static final String CANCELLED = "cancelled";

    /**
     * What a generation produced.
     *
     * @param text             the generated text (stop string and stop token excluded); equals the concatenated deltas
     * @param ids              the generated ids (a stop id excluded)
     * @param promptTokens     prompt positions, image positions included
     * @param imageTokens      image positions in the prompt
     * @param completionTokens generated tokens
     * @param finishReason     {@link #STOP}, {@link #LENGTH} or {@link #CANCELLED}
     * @param stopString       the stop string that ended it, or null
     * @param stopId           the stop id that ended it, or -1
     * @param imageEncodeMs    image encoder + connector time (0 for cache hits)
     * @param prefillMs        the prompt's forward pass up to the first token's logits
     * @param decodeMs         the rest
     */
    public record Result(String text, long[] ids, int promptTokens, int imageTokens, int completionTokens,
            String finishReason, String stopString, int stopId, double imageEncodeMs, double prefillMs,
            double decodeMs) {}

    private static final Map<Decoder, ReentrantLock> LOCKS = new WeakHashMap<>();

    private final Mm1Model model;
    private final Decoder decoder;
    private final Tokenizer tok;
    private final DecodePath path;
    private final ImageEmbeddingCache cache;

    /** A generator for {@code model}; {@code tok} turns ids into text. */
    public Generator(Mm1Model model, Tokenizer tok, DecodePath path) {
        this(model, tok, path, null);
    }

    /** @param cache encoded images by content (one per model), or null to encode every time */
    public Generator(Mm1Model model, Tokenizer tok, DecodePath path, ImageEmbeddingCache cache) {
        this.model = model;
        this.decoder = model.decoder();
        this.tok = tok;
        this.path = path;
        this.cache = cache;
    }

    /** An id-level generator on a bare decoder (benchmarks, parity tests): no tokenizer, no images. */
    public Generator(Decoder decoder, DecodePath path) {
        this.model = null;
        this.decoder = decoder;
        this.tok = null;
        this.path = path;
        this.cache = null;
    }

    public DecodePath path() {
        return path;
    }

    /** The language model this generator decodes with. */
    Decoder decoder() {
        return decoder;
    }

    /** The model, or null for an id-level generator. */
    public Mm1Model model() {
        return model;
    }

    /** The tokenizer, or null for an id-level generator. */
    public Tokenizer tokenizer() {
        return tok;
    }

    /** Generates from a prompt built by {@link PromptBuilder}. */
    public Result generate(Prompt prompt, GenerationConfig cfg, TokenListener listener) {
        return generate(prompt, null, cfg, listener);
    }

    /**
     * Generates from a prompt whose input embeddings the caller made (e.g. evaluation with blanked images).
     *
     * @param embeddings (1, T, D) input embeddings of {@code prompt.ids()}, or null to make them from the prompt
     */
    public Result generate(Prompt prompt, NDArray embeddings, GenerationConfig cfg, TokenListener listener) {
        // a server's worker thread would otherwise record every intermediate for a backward that never comes
        return BlockScope.noGrad(() -> generateNoGrad(prompt, embeddings, cfg, listener));
    }

    /**
     * A request's stop rules: the config's and the model's stop ids into {@code stopIds}, plus the stop strings that
     * name a special token (decoded text skips special tokens, so those match by id); returns the other strings.
     */
    List<String> stops(GenerationConfig cfg, Set<Integer> stopIds) {
        stopIds.addAll(cfg.stopIds());
        stopIds.addAll(decoder.config().stopIds());
        List<String> stopStrings = new ArrayList<>();
        for (String s : cfg.stopStrings()) {
            if (tok.specialId(s) >= 0) {
                stopIds.add(tok.specialId(s));
            } else {
                stopStrings.add(s);
            }
        }
        return stopStrings;
    }

    private Result generateNoGrad(Prompt prompt, NDArray embeddings, GenerationConfig cfg, TokenListener listener) {
        if (tok == null) {
            throw new IllegalStateException("an id-level Generator has no tokenizer; construct it from a model");
        }
        checkRoom(prompt.length(), cfg.maxTokens());
        Set<Integer> stopIds = new HashSet<>();
        TextStream text = new TextStream(tok::decode, stops(cfg, stopIds),
                cfg.continuesPrompt() ? TextStream.context(prompt) : new long[0]);
        List<Long> ids = new ArrayList<>();
        int[] stopId = {-1};
        boolean[] cancelled = {false};
        ReentrantLock lock = lock(decoder);
        try {
            lock.lockInterruptibly(); // a caller waiting its turn can be interrupted (e.g. its client went away)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result("", new long[0], prompt.length(), prompt.imageTokenCount(), 0, CANCELLED, null, -1, 0,
                    0, 0);
        }
        try (NDScope scope = new NDScope()) { // encoder/connector temporaries must not pile up in the params
            long t0 = System.nanoTime();
            NDArray embeds = embeddings;
            if (embeds == null && prompt.hasImages()) {
                embeds = spliced(prompt);
            }
            double encodeMs = (System.nanoTime() - t0) / 1e6;
            Sampler sampler = Sampler.of(cfg, prompt.ids());
            Loop loop = run(prompt.ids(), embeds, cfg.maxTokens(), sampler, new IdSink() {
                @Override
                public boolean stopAt(int id) {
                    if (stopIds.contains(id)) {
                        stopId[0] = id;
                        return true;
                    }
                    return false;
                }

                @Override
                public boolean accept(int id) {
                    ids.add((long) id);
                    String delta = text.push(id);
                    if (!listener.onToken(id, delta)) {
                        cancelled[0] = true;
                        return false;
                    }
                    return text.matchedStop() == null;
                }
            });
            String reason;
            if (cancelled[0]) {
                reason = CANCELLED;
            } else {
                String tail = text.finish();
                if (!tail.isEmpty()) {
                    listener.onToken(TokenListener.END, tail);
                }
                reason = text.matchedStop() != null || stopId[0] >= 0 ? STOP : LENGTH;
            }
            scope.suppressNotUsedWarning();
            return new Result(text.text(), ids.stream().mapToLong(Long::longValue).toArray(), prompt.length(),
                    prompt.imageTokenCount(), ids.size(), reason, text.matchedStop(), stopId[0], encodeMs,
                    loop.prefillMs, loop.decodeMs);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Id-level generation (no text): greedy or sampled continuation of {@code prompt}.
     *
     * @param prompt    token ids (non-empty: start from BOS)
     * @param stop      ids that end generation (not emitted)
     * @param onToken   receives every generated id
     * @return number of tokens generated
     */
    public int generate(long[] prompt, int maxTokens, Sampler sampler, Set<Integer> stop, IntConsumer onToken) {
        return BlockScope.noGrad(() -> generateIds(prompt, maxTokens, sampler, stop, onToken));
    }

    private int generateIds(long[] prompt, int maxTokens, Sampler sampler, Set<Integer> stop, IntConsumer onToken) {
        if (prompt.length == 0) {
            throw new Mm1Exception("generation needs at least one prompt token (BOS)");
        }
        checkRoom(prompt.length, maxTokens);
        int[] produced = {0};
        ReentrantLock lock = lock(decoder);
        lock.lock();
        try (NDScope scope = new NDScope()) {
            run(prompt, null, maxTokens, sampler, new IdSink() {
                @Override
                public boolean stopAt(int id) {
                    return stop.contains(id);
                }

                @Override
                public boolean accept(int id) {
                    onToken.accept(id);
                    produced[0]++;
                    return true;
                }
            });
            scope.suppressNotUsedWarning();
        } finally {
            lock.unlock();
        }
        return produced[0];
    }

    void checkRoom(int promptLength, int maxTokens) {
        if (promptLength + maxTokens > decoder.config().maxPositions()) {
            throw new Mm1Exception("prompt (" + promptLength + " tokens) + max tokens (" + maxTokens
                    + ") exceeds the model's context of " + decoder.config().maxPositions() + " positions");
        }
    }

    /** The fair lock that serialises generations (and image encoding) on {@code d}. */
    static ReentrantLock lock(Decoder d) {
        synchronized (LOCKS) {
            return LOCKS.computeIfAbsent(d, k -> new ReentrantLock(true));
        }
    }

    /** Where generated ids go: the loop asks {@link #stopAt} first, then hands the id to {@link #accept}. */
    private interface IdSink {
        /** True when {@code id} ends generation without being emitted. */
        boolean stopAt(int id);

        /** Takes a generated id; false ends generation after it. */
        boolean accept(int id);
    }

    private record Loop(int produced, double prefillMs, double decodeMs) {}

    /** The decode loop shared by every entry point: prefill, then sample → stop? → emit → step. */
    private Loop run(long[] prompt, NDArray embeds, int maxTokens, Sampler sampler, IdSink sink) {
        if (maxTokens == 0) {
            return new Loop(0, 0, 0);
        }
        int capacity = prompt.length + maxTokens;
        CpuDecoder cpu = path == DecodePath.CPU ? decoder.cpuDecoder(capacity) : null;
        if (cpu != null && cpu.acquire()) {
            try {
                synchronized (cpu) { // the shared cache and scratch buffers belong to one generation at a time
                    cpu.ensureCapacity(capacity);
                    return runOnCpu(cpu, prompt, embeds, maxTokens, sampler, sink);
                }
            } finally {
                cpu.release();
            }
        }
        return runOnDjl(prompt, embeds, maxTokens, sampler, sink);
    }

    private static Loop runOnCpu(CpuDecoder cpu, long[] prompt, NDArray embeds, int maxTokens, Sampler sampler,
                                 IdSink sink) {
        long t0 = System.nanoTime();
        float[] logits;
        if (embeds != null) {
            float[] rows = embeds.toType(DataType.FLOAT32, false).toFloatArray(); // (T, D)
            logits = cpu.prefill(rows, prompt.length);
        } else {
            int[] ids = new int[prompt.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = Math.toIntExact(prompt[i]);
            }
            logits = cpu.prefill(ids);
        }
        long t1 = System.nanoTime();
        int produced = 0;
        while (produced < maxTokens) {
            int next = sampler.sample(logits);
            if (sink.stopAt(next)) {
                break;
            }
            produced++;
            if (!sink.accept(next) || produced == maxTokens) {
                break;
            }
            logits = cpu.step(next);
        }
        return new Loop(produced, (t1 - t0) / 1e6, (System.nanoTime() - t1) / 1e6);
    }

    private Loop runOnDjl(long[] prompt, NDArray promptEmbeds, int maxTokens, Sampler sampler, IdSink sink) {
        NDManager manager = decoder.params().manager();
        long t0 = System.nanoTime();
        long t1 = t0;
        int produced = 0;
        try (KvCache kv = decoder.newCache(1, prompt.length + maxTokens)) {
            long[] input = prompt;
            while (produced < maxTokens) {
                int next;
                try (NDScope scope = new NDScope()) {
                    NDArray embeds = produced == 0 && promptEmbeds != null ? promptEmbeds
                            : decoder.embed(manager.create(input, new Shape(1, input.length))); // (1, T, D)
                    NDArray logits = decoder.forward(embeds, null, kv, true).logits(); // (1, 1, V)
                    float[] row = logits.getDataType() == DataType.FLOAT32 ? logits.toFloatArray()
                            : logits.toType(DataType.FLOAT32, false).toFloatArray();
                    if (produced == 0) {
                        t1 = System.nanoTime();
                    }
                    next = sampler.sample(row);
                    scope.suppressNotUsedWarning();
                }
                if (sink.stopAt(next)) {
                    break;
                }
                produced++;
                if (!sink.accept(next)) {
                    break;
                }
                input = new long[] {next};
            }
        }
        return new Loop(produced, (t1 - t0) / 1e6, (System.nanoTime() - t1) / 1e6);
    }

    /**
     * (1, T, D) prompt embeddings with the images' tokens at their slots. Each picture is prepared and encoded by
     * the model's {@link ImagePipeline} (its own preprocessing and token count: MM1's k, LLaVA-NeXT's tiles), pictures
     * missing from the cache in one batch.
     */
    NDArray spliced(Prompt prompt) {
        return spliced(List.of(prompt)).get(0);
    }

    /** Pictures encoded per batch at most (continuous batching may bring many prompts with images at once). */
    static final int ENCODE_BATCH = 16;

    /**
     * {@link #spliced(Prompt)} for several prompts (each with images), the pictures missing from the cache encoded
     * together in batches of at most {@link #ENCODE_BATCH}.
     */
    List<NDArray> spliced(List<Prompt> prompts) {
        if (model == null || !model.isMultimodal()) {
            throw new Mm1Exception("this model is text-only (no image encoder); it cannot take images");
        }
        NDManager m = model.params().manager();
        ImagePipeline pipeline = model.imagePipeline();
        int d = decoder.config().hiddenSize();
        List<float[]> alls = new ArrayList<>();
        List<int[]> offsetsOf = new ArrayList<>();
        List<int[]> missing = new ArrayList<>(); // {prompt, image}
        List<String> keys = new ArrayList<>();
        for (int pi = 0; pi < prompts.size(); pi++) {
            Prompt prompt = prompts.get(pi);
            List<RgbImage> images = prompt.images();
            int[] counts = prompt.imageTokens();
            int[] offsets = new int[images.size() + 1];
            for (int i = 0; i < images.size(); i++) {
                offsets[i + 1] = offsets[i] + counts[i];
            }
            float[] all = new float[offsets[images.size()] * d];
            for (int i = 0; i < images.size(); i++) {
                String key = cache == null ? null : ImageEmbeddingCache.key(images.get(i));
                float[] hit = key == null ? null : cache.get(key);
                if (hit != null && hit.length == counts[i] * d) {
                    System.arraycopy(hit, 0, all, offsets[i] * d, hit.length);
                } else {
                    missing.add(new int[] {pi, i});
                    keys.add(key);
                }
            }
            alls.add(all);
            offsetsOf.add(offsets);
        }
        for (int from = 0; from < missing.size(); from += ENCODE_BATCH) {
            List<int[]> part = missing.subList(from, Math.min(missing.size(), from + ENCODE_BATCH));
            List<ImagePipeline.Prepared> todo = new ArrayList<>();
            for (int[] at : part) {
                Prompt prompt = prompts.get(at[0]);
                ImagePipeline.Prepared p = pipeline.prepare(prompt.images().get(at[1]), m);
                int want = prompt.imageTokens()[at[1]];
                if (p.tokens() != want) {
                    throw new Mm1Exception("prompt: image " + at[1] + " has " + want + " slot positions but the "
                            + "model gives it " + p.tokens() + " tokens");
                }
                todo.add(p);
            }
            float[] enc = pipeline.encode(todo).toType(DataType.FLOAT32, false).toFloatArray(); // (Σk, D)
            int pos = 0;
            for (int j = 0; j < part.size(); j++) {
                int[] at = part.get(j);
                int n = prompts.get(at[0]).imageTokens()[at[1]] * d;
                float[] one = java.util.Arrays.copyOfRange(enc, pos, pos + n);
                pos += n;
                System.arraycopy(one, 0, alls.get(at[0]), offsetsOf.get(at[0])[at[1]] * d, n);
                if (cache != null) {
                    cache.put(keys.get(from + j), one);
                }
            }
        }
        List<NDArray> out = new ArrayList<>();
        for (int pi = 0; pi < prompts.size(); pi++) {
            Prompt prompt = prompts.get(pi);
            int[] offsets = offsetsOf.get(pi);
            int total = offsets[offsets.length - 1];
            NDArray tokens = m.create(alls.get(pi), new Shape(total, d)); // (Σk, D)
            if (model.params().dtype() != DataType.FLOAT32) {
                tokens = tokens.toType(model.params().dtype(), false);
            }
            NDArray ids = m.create(prompt.ids(), new Shape(1, prompt.ids().length));
            out.add(model.spliceImages(ids, tokens, prompt.imageTokens(), prompt.imageTokenId())); // (1, T, D)
        }
        return out;
    }
}
