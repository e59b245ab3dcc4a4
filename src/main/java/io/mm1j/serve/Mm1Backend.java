package io.mm1j.serve;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import io.mm1j.Mm1Exception;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Quantization;
import io.mm1j.mllm.BatchGenerator;
import io.mm1j.mllm.ChatMessage;
import io.mm1j.mllm.ChatTemplate;
import io.mm1j.mllm.GenerationConfig;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.ImageEmbeddingCache;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.Prompt;
import io.mm1j.mllm.TokenListener;
import io.mm1j.mllm.PromptBuilder;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@link ChatBackend} over an mm1j model folder: conversations go through the model's chat template
 * ({@link ChatTemplate#forModel}) and {@link PromptBuilder}, generation through the one {@link Generator} with an
 * {@link ImageEmbeddingCache}, so a conversation that resends its images every turn encodes each image once.
 */
public final class Mm1Backend implements ChatBackend {
    private static final SecureRandom SEEDS = new SecureRandom();

    private final String id;
    private final NDManager root;
    private final Tokenizer tok;
    private final Mm1Model model;
    private final ChatTemplate template;
    private final PromptBuilder prompts;
    private final ImageEmbeddingCache cache;
    private final Generator generator;
    private final BatchGenerator batcher;
    private final Map<Stream, BatchGenerator.Client> streams = new ConcurrentHashMap<>();
    private final int torchThreads;
    private final int torchThreadsBefore;

    /**
     * Loads {@code dir} (float32) under {@code root}, which this backend closes.
     *
     * @param id                the model id clients use
     * @param imageCacheEntries encoded images kept (0 = none)
     */
    public Mm1Backend(Path dir, String id, NDManager root, DecodePath path, int imageCacheEntries) {
        this(dir, id, root, path, imageCacheEntries, Quantization.NONE, ServeLimits.DEFAULT_MAX_BATCH);
    }

    /**
     * @param q        how the decoder's weights are quantised on load
     * @param maxBatch requests decoded together by continuous batching ({@link BatchGenerator}); 0 = none (the
     *                 server then generates one request at a time)
     */
    public Mm1Backend(Path dir, String id, NDManager root, DecodePath path, int imageCacheEntries, Quantization q,
                      int maxBatch) {
        this(dir, id, root, path, imageCacheEntries, q, maxBatch, 0);
    }

    /**
     * @param encodeThreads libtorch's intra-op threads in this process until {@link #close} (0 =
     *                      {@link #encodeThreads}'s choice)
     */
    public Mm1Backend(Path dir, String id, NDManager root, DecodePath path, int imageCacheEntries, Quantization q,
                      int maxBatch, int encodeThreads) {
        if (maxBatch < 0) {
            throw new Mm1Exception("--max-batch must be >= 0 (0 = no continuous batching), got " + maxBatch);
        }
        if (encodeThreads < 0) {
            throw new Mm1Exception("--encode-threads must be >= 0 (0 = automatic), got " + encodeThreads);
        }
        this.id = id;
        this.root = root;
        Tokenizer t = Tokenizer.load(dir.resolve("tokenizer.json"));
        try {
            Mm1Model m = Mm1Model.load(dir, root, DataType.FLOAT32);
            try {
                q.apply(m.decoder());
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
            this.model = m;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        this.tok = t;
        int torchThreads = encodeThreads(encodeThreads, path == DecodePath.CPU
                && io.mm1j.llm.CpuDecoder.supports(model.decoder()), model.isMultimodal());
        int before = JniUtils.getNumThreads();
        if (torchThreads > 0) {
            try {
                JniUtils.setNumThreads(torchThreads); // before the scheduler thread's first libtorch op takes it
            } catch (RuntimeException e) {
                try (tok; model) {
                    throw e;
                }
            }
        }
        this.torchThreads = torchThreads;
        this.torchThreadsBefore = before;
        this.template = ChatTemplate.forModel(dir, tok);
        this.prompts = new PromptBuilder(model, tok);
        this.cache = imageCacheEntries > 0 && model.isMultimodal() ? new ImageEmbeddingCache(imageCacheEntries) : null;
        this.generator = new Generator(model, tok, path, cache);
        this.batcher = maxBatch > 0 ? new BatchGenerator(generator, maxBatch) : null;
    }

    /**
     * libtorch's intra-op threads for serving, or 0 to leave them as they are: {@code requested} when given; else,
     * when the decoder runs on the CPU path and libtorch only encodes images, half the cores (at least one). On 2
     * cores (bench serve, mini, 2026-12-02) one libtorch thread made every level faster, 1 to 16 clients: after each
     * op libtorch's OpenMP threads spin, and they took the cores from the decode threads and the requests' HTTP
     * threads (single client 625–1001 tokens/s against 363–586 with two, 16 clients 1906–2530 against 1753–1933).
     * Encoding and decode steps take turns on the scheduler thread, so the encoder is not starved of work by it.
     */
    static int encodeThreads(int requested, boolean cpuDecode, boolean multimodal) {
        if (requested > 0) {
            return requested;
        }
        return cpuDecode && multimodal ? Math.max(1, Runtime.getRuntime().availableProcessors() / 2) : 0;
    }

    /** The libtorch intra-op threads this backend set, or 0 when it left them as they were. */
    public int torchThreads() {
        return torchThreads;
    }

    @Override
    public String modelId() {
        return id;
    }

    @Override
    public int contextLength() {
        return model.config().llm().maxPositions();
    }

    @Override
    public boolean acceptsImages() {
        return model.isMultimodal();
    }

    @Override
    public int countPromptTokens(ChatBackend.Input prompt) {
        return build(prompt).length();
    }

    @Override
    public int minPromptTokens(ChatBackend.Input prompt) {
        return prompt instanceof TextInput t ? prompts.minLength(t.text(), true)
                : prompts.minChatLength(template, messages((ChatInput) prompt), true);
    }

    private Prompt build(ChatBackend.Input prompt) {
        if (prompt instanceof TextInput t) {
            return prompts.fromText(t.text(), List.of());
        }
        return prompts.fromChat(template, messages((ChatInput) prompt), true);
    }

    private static List<ChatMessage> messages(ChatInput chat) {
        List<ChatMessage> messages = new ArrayList<>();
        for (ChatTurn turn : chat.turns()) {
            List<ChatMessage.Part> parts = new ArrayList<>();
            for (ChatTurn.Content c : turn.content()) {
                parts.add(c instanceof ChatTurn.Text text ? new ChatMessage.TextPart(text.text())
                        : new ChatMessage.ImagePart(((ChatTurn.Image) c).image()));
            }
            messages.add(new ChatMessage(turn.role(), parts));
        }
        return messages;
    }

    @Override
    public Completion generate(ChatBackend.Input prompt, Sampling s, int maxTokens, DeltaListener listener) {
        Generator.Result r = generator.generate(build(prompt), config(prompt, s, maxTokens),
                (tokenId, delta) -> tokenId == TokenListener.END ? listener.onTail(delta) : listener.onDelta(delta));
        return completion(r);
    }

    private static Completion completion(Generator.Result r) {
        return new Completion(r.text(), r.promptTokens(), r.imageTokens(), r.completionTokens(), r.finishReason());
    }

    @Override
    public boolean batches() {
        return batcher != null;
    }

    @Override
    public void submit(ChatBackend.Input prompt, Sampling s, int maxTokens, Stream stream) {
        if (batcher == null) {
            throw new IllegalStateException("submit() with continuous batching off (--max-batch 0): call generate()");
        }
        Prompt p = build(prompt); // tokenised on the request thread, in parallel with the running batch
        BatchGenerator.Client client = new BatchGenerator.Client() {
            @Override
            public boolean onToken(int id, String textDelta) {
                return id == TokenListener.END ? stream.onTail(textDelta) : stream.onDelta(textDelta);
            }

            @Override
            public boolean cancelled() {
                return stream.cancelled();
            }

            @Override
            public void started() {
                stream.admitted();
            }

            @Override
            public void done(Generator.Result result) {
                streams.remove(stream);
                stream.done(completion(result));
            }

            @Override
            public void failed(RuntimeException error) {
                streams.remove(stream);
                stream.failed(error);
            }
        };
        streams.put(stream, client);
        try {
            batcher.submit(p, config(prompt, s, maxTokens), client);
        } catch (RuntimeException e) {
            streams.remove(stream);
            throw e;
        }
    }

    @Override
    public boolean withdraw(Stream stream) {
        BatchGenerator.Client c = streams.get(stream);
        if (c != null && batcher.withdraw(c)) {
            streams.remove(stream);
            return true;
        }
        return false;
    }

    @Override
    public int waiting() {
        return batcher == null ? 0 : batcher.waiting();
    }

    @Override
    public int batchSize() {
        return batcher == null ? 1 : batcher.maxBatch();
    }

    @Override
    public int running() {
        return batcher == null ? 0 : batcher.running();
    }

    private GenerationConfig config(ChatBackend.Input prompt, Sampling s, int maxTokens) {
        GenerationConfig.Builder cfg = GenerationConfig.builder().maxTokens(maxTokens).temperature(s.temperature())
                .topK(s.topK()).topP(s.topP()).minP(s.minP()).repetitionPenalty(s.repetitionPenalty())
                .seed(s.seed() != null ? s.seed() : SEEDS.nextLong()).stopStrings(s.stop());
        if (prompt instanceof ChatInput) {
            cfg.stopsOf(template); // the assistant's turn ends at the template's end-of-turn marker
        } else {
            cfg.continuesPrompt(true); // a text completion: " big" after "Tom had a", not "big"
        }
        return cfg.build();
    }

    @Override
    public long[] imageCacheStats() {
        return cache == null ? null : new long[] {cache.hits(), cache.misses(), cache.size()};
    }

    @Override
    public void close() {
        if (torchThreads > 0) {
            // process-wide: later work in this JVM (another backend, a DJL decode) gets libtorch's count back; a
            // thread that already ran libtorch ops keeps the count it started with
            JniUtils.setNumThreads(torchThreadsBefore);
        }
        if (batcher != null) {
            batcher.close(); // requests still running end as cancelled
            if (!batcher.stopped()) {
                return; // a step still uses the model: leave it to the process exit rather than free it under the step
            }
        }
        try (root; tok; model) {
            if (cache != null) {
                cache.clear();
            }
        }
    }
}
