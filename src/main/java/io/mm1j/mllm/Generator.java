package io.mm1j.mllm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.llm.CpuDecoder;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Decoder;
import io.mm1j.nn.KvCache;
import io.mm1j.Mm1Exception;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * Autoregressive generation with the KV cache: one prefill pass over the prompt, then one token per step.
 * Tokens stream through a callback so that a CLI or server can print as they come.
 */
public final class Generator {
    private final Decoder decoder;
    private final DecodePath path;

    /** A generator on the default path: the plain-Java CPU decoder where it applies. */
    public Generator(Decoder decoder) {
        this(decoder, DecodePath.CPU);
    }

    public Generator(Decoder decoder, DecodePath path) {
        this.decoder = decoder;
        this.path = path;
    }

    /**
     * @param prompt    token ids (must be non-empty: start from BOS)
     * @param maxTokens tokens to generate at most
     * @param stop      ids that end generation (not emitted)
     * @param onToken   receives every generated id
     * @return number of tokens generated
     */
    public int generate(long[] prompt, int maxTokens, Sampler sampler, Set<Integer> stop, IntConsumer onToken) {
        return generate(prompt, null, maxTokens, sampler, stop, onToken);
    }

    /**
     * @param promptEmbeddings (1, T, D) input embeddings of the prompt (e.g. with image tokens spliced in), or null
     *                         to embed {@code prompt} directly; must match {@code prompt.length}
     */
    public int generate(long[] prompt, NDArray promptEmbeddings, int maxTokens, Sampler sampler, Set<Integer> stop,
                        IntConsumer onToken) {
        if (prompt.length == 0) {
            throw new Mm1Exception("generation needs at least one prompt token (BOS)");
        }
        int capacity = prompt.length + maxTokens;
        if (capacity > decoder.config().maxPositions()) {
            throw new Mm1Exception("prompt (" + prompt.length + " tokens) + --max-tokens (" + maxTokens
                    + ") exceeds the model's maxPositions " + decoder.config().maxPositions());
        }
        CpuDecoder cpu = path == DecodePath.CPU ? decoder.cpuDecoder(capacity) : null;
        if (cpu != null && cpu.acquire()) {
            try {
                synchronized (cpu) { // one generation at a time owns the shared cache and scratch buffers
                    cpu.ensureCapacity(capacity);
                    return generateOnCpu(cpu, prompt, promptEmbeddings, maxTokens, sampler, stop, onToken);
                }
            } finally {
                cpu.release();
            }
        }
        NDManager manager = decoder.params().manager();
        int produced = 0;
        try (KvCache cache = decoder.newCache(1, capacity)) {
            long[] input = prompt;
            while (produced < maxTokens) {
                int next;
                try (NDScope scope = new NDScope()) {
                    NDArray embeds = produced == 0 && promptEmbeddings != null ? promptEmbeddings
                            : decoder.embed(manager.create(input, new Shape(1, input.length))); // (1, T, D)
                    NDArray logits = decoder.forward(embeds, null, cache, true).logits(); // (1, 1, V)
                    float[] row = logits.getDataType() == DataType.FLOAT32 ? logits.toFloatArray()
                            : logits.toType(DataType.FLOAT32, false).toFloatArray();
                    next = sampler.sample(row);
                    scope.suppressNotUsedWarning();
                }
                if (stop.contains(next)) {
                    break;
                }
                onToken.accept(next);
                produced++;
                input = new long[] {next};
            }
        }
        return produced;
    }

    /** The same loop on the plain-Java CPU path (prefill is one step per prompt position). */
    private static int generateOnCpu(CpuDecoder cpu, long[] prompt, NDArray promptEmbeddings, int maxTokens,
                                     Sampler sampler, Set<Integer> stop, IntConsumer onToken) {
        float[] logits = null;
        if (promptEmbeddings != null) {
            float[] rows = promptEmbeddings.toType(DataType.FLOAT32, false).toFloatArray();
            int d = Math.toIntExact(promptEmbeddings.getShape().get(2));
            float[] row = new float[d];
            for (int t = 0; t < prompt.length; t++) {
                System.arraycopy(rows, t * d, row, 0, d);
                logits = cpu.step(row);
            }
        } else {
            for (long id : prompt) {
                logits = cpu.step((int) id);
            }
        }
        int produced = 0;
        while (produced < maxTokens) {
            int next = sampler.sample(logits);
            if (stop.contains(next)) {
                break;
            }
            onToken.accept(next);
            produced++;
            if (produced < maxTokens) {
                logits = cpu.step(next);
            }
        }
        return produced;
    }
}
