package io.mm1j.config;

import io.mm1j.Mm1Exception;

/**
 * Peak memory of one LLM training step (forward, backward, global-norm clip, AdamW), predicted from the config
 * alone for {@code mm1 info} and the planner. It models mm1j's own implementation rather than an ideal one:
 *
 * <ul>
 *   <li>State: weights, gradients (allocated by the first backward, then kept) and AdamW's two moments, all in
 *       the training dtype ({@code bytes} per value).</li>
 *   <li>Activations: DJL frees nothing by reference count, so every intermediate of the recorded forward lives
 *       until the step's scope closes; counted op by op from {@code llm.Decoder} (per layer
 *       10·BTD + 7·BTQ + 6·BTK + 5·BTF + 4·B·H·T² + 6·BT values, Q/K the query/key-value widths (4·BTQ + 3·BTK
 *       with training's paired RoPE in float32/64: no swapped halves or partial products); the scores
 *       appear 4 times: matmul, scale, mask, softmax), plus the LM head (norm, logits, log-softmax) and the
 *       backward's transient gradients of the logits (2·BTV); in float32/64 the fused head records no logits
 *       (logits and their gradient, 2·BTV, for a moment). In float32/64 with the fused attention kernel
 *       ({@code nn.ScriptKernels}) no scores are kept, only a log-sum-exp per query and head (B·H·T instead of
 *       4·B·H·T²), and the fused SiLU keeps no σ(gate) (4·BTF instead of 5·BTF); half precision (the
 *       planner's GPUs) takes the composed ops. In float32/64 each RMSNorm keeps no x² either (its mean square
 *       comes from the row's norm): one BTD less per norm.</li>
 *   <li>With activation checkpointing ({@code train.ActivationCheckpointing}): the 2L+1 segment inputs (an
 *       attention and a feed-forward half per layer), plus the largest of one head chunk's
 *       ({@link #checkpointedHeadRows} rows) and one half-layer's recorded activations (one segment is recorded
 *       at a time, a dense one over chunks of rows: {@link #checkpointedAttentionRows},
 *       {@link #checkpointedFeedForwardRows}).</li>
 *   <li>AdamW's step: its temporaries ({@code g·(1−β1)}, {@code g²}, {@code √v}, the update: 4 values per
 *       value) live while one tensor is updated (each in a scope of its own), so the largest tensor sets them;
 *       they come after the activations are freed, so the peak is the larger of the two phases.</li>
 *   <li>Runtime: the JVM and libtorch's own resident memory, a constant measured on this project's CPU build.</li>
 * </ul>
 * Image-encoder activations are not modelled (text batches of B×T tokens).
 */
public final class MemoryModel {
    /**
     * Resident memory of the JVM, libtorch and the allocator's retained free blocks, fitted (2026-11-30, OpenJDK 17,
     * CPU libtorch 2.7.1, glibc's default allocator) to {@code mm1 bench train-step} at batch 8 × 256, with and
     * without checkpointing, on {@code mini} (measured peak 0.94–0.97 GB / 0.49 GB, predicted 1.07 / 0.55 GB) and
     * ablation-1.2b's LLM at 2 layers (6.82 / 5.65 GB, predicted 6.74 / 5.18 GB): every prediction within 13%.
     * With the fused attention and the reuse allocator policy (same day, later): {@code mini} plain 0.88 GB
     * measured, 0.94 GB predicted; activations 488 MB measured, 449 MB predicted. With the fused SiLU too:
     * activations 427 MB measured, 426 MB predicted; peak 0.81 GB measured, 0.91 GB predicted. With the
     * norm-based RMSNorm: activations 401-419 MB measured, 407 MB predicted.
     */
    public static final long RUNTIME_BYTES = 400L << 20;
    /** AdamW temporaries per value of the tensor being updated (see the class comment). */
    static final int ADAM_TEMPORARIES = 4;

    private MemoryModel() {}

    /** The prediction, in bytes; {@link #peak} is what the process reaches. */
    public record Estimate(long weights, long gradients, long adamMoments, long activations,
                           long optimizerTemporaries, long runtime) {
        /** State + runtime + the larger of the backward phase (activations) and the optimizer phase. */
        public long peak() {
            return runtime + weights + gradients + adamMoments + Math.max(activations, optimizerTemporaries);
        }
    }

    /**
     * @param params                all model parameters (weights of every component; only the LLM is trained here)
     * @param batch                 sequences per step
     * @param seq                   tokens per sequence
     * @param bytes                 bytes per value (4 for float32)
     * @param checkpointing         activation checkpointing per decoder layer
     */
    public static Estimate training(LlmConfig c, long params, int batch, int seq, int bytes, boolean checkpointing) {
        if (batch < 1 || seq < 1 || bytes < 1) {
            throw new Mm1Exception("memory model: batch, seq and bytes must be positive, got " + batch + ", " + seq
                    + ", " + bytes);
        }
        long trained = ParamCount.llm(c).total();
        long state = params * bytes;
        long acts = (checkpointing ? checkpointed(c, batch, seq, bytes) : plain(c, batch, seq, bytes)) * bytes;
        return new Estimate(state, trained * bytes, 2 * trained * bytes, acts,
                (long) ADAM_TEMPORARIES * largestTensor(c) * bytes, RUNTIME_BYTES);
    }

    /**
     * Values in the LLM's largest parameter tensor: AdamW updates one tensor at a time in a scope of its own, so
     * its temporaries peak on the largest (the embedding or LM head, V·D, for every preset).
     */
    static long largestTensor(LlmConfig c) {
        long d = c.hiddenSize();
        long widest = Math.max(c.vocabSize(), Math.max(c.intermediateSize(), (long) c.numHeads() * c.headDim()));
        if (c.moe() != null) {
            widest = Math.max(widest, c.expertIntermediate());
        }
        return widest * d;
    }

    /** Whether training in {@code bytes} per value runs the fused attention and SiLU (float32/64, kernels on). */
    static boolean fused(int bytes) {
        return bytes >= 4 && io.mm1j.nn.ScriptKernels.enabled();
    }

    /** Whether training's attention takes the paired RoPE (as {@code llm.Decoder} does without an adapter). */
    static boolean pairedRope(int bytes) {
        return fused(bytes) && !"false".equalsIgnoreCase(System.getProperty("mm1.pairedRope"));
    }

    /** Values alive at the end of a recorded forward + the backward's transients, no checkpointing. */
    static long plain(LlmConfig c, long b, long t, int bytes) {
        long total = b * t * c.hiddenSize(); // token embeddings
        for (int i = 0; i < c.numLayers(); i++) {
            total += layer(c, i, b, t, bytes);
        }
        return total + head(c, b, t, bytes, fusedHead(bytes));
    }

    /**
     * Logits budget of one LM-head chunk under activation checkpointing: the head holds logits, log-softmax and
     * their gradients (3 × rows × T × V values); 48 MiB keeps that below a decoder layer's activations for the
     * presets while the head's matmul stays large.
     */
    public static final long HEAD_CHUNK_BYTES = 24L << 20;

    /** Rows of {@code t} tokens per LM-head chunk under activation checkpointing (at least one). */
    public static int checkpointedHeadRows(long t, int vocab, int bytes) {
        long perRow = 3 * t * vocab * bytes;
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, HEAD_CHUNK_BYTES / perRow));
    }

    /**
     * Rows of {@code t} tokens per chunk when activation checkpointing re-runs a decoder layer's attention half in
     * the backward: as many as fit one recorded half within {@link #HEAD_CHUNK_BYTES} (at least one).
     */
    public static int checkpointedAttentionRows(LlmConfig c, long t, int bytes) {
        return rowsWithin(attention(c, 1, t, bytes) * bytes);
    }

    /**
     * Rows per chunk for layer i's recorded feed-forward half (dense only: an MoE half routes the whole batch at
     * once, see {@link #checkpointed}).
     */
    public static int checkpointedFeedForwardRows(LlmConfig c, int i, long t, int bytes) {
        return rowsWithin(feedForward(c, i, 1, t, bytes) * bytes);
    }

    private static int rowsWithin(long bytesPerRow) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, HEAD_CHUNK_BYTES / Math.max(1, bytesPerRow)));
    }

    /**
     * Values alive at the peak of a checkpointed step: the LM head and every dense half-layer are recorded over
     * chunks of rows, an MoE feed-forward half over the whole batch.
     */
    static long checkpointed(LlmConfig c, long b, long t, int bytes) {
        long btd = b * t * c.hiddenSize();
        // segment inputs (embedding output, then an attention and a feed-forward half per layer), gradOut and
        // the input's gradient
        long checkpoints = (2L * c.numLayers() + 1) * btd + 2 * btd;
        long rows = Math.min(b, checkpointedHeadRows(t, c.vocabSize(), bytes));
        long widest = head(c, rows, t, bytes, false) + btd; // + the gradients of the chunks' inputs, gathered
        long attentionRows = Math.min(b, checkpointedAttentionRows(c, t, bytes));
        for (int i = 0; i < c.numLayers(); i++) {
            // the VJP takes gradOut as the output's gradient; a chunked half also gathers its input's gradient
            widest = Math.max(widest, attention(c, attentionRows, t, bytes) + (attentionRows < b ? btd : 0));
            long ffRows = c.isMoeLayer(i) ? b : Math.min(b, checkpointedFeedForwardRows(c, i, t, bytes));
            widest = Math.max(widest, feedForward(c, i, ffRows, t, bytes) + (ffRows < b ? btd : 0));
        }
        return checkpoints + widest;
    }

    /**
     * One recorded attention half (norm, projections, RoPE, scores, softmax, output), in values; with the fused
     * kernel a log-sum-exp per query and head instead of the four score-sized arrays.
     */
    static long attention(LlmConfig c, long b, long t, int bytes) {
        long bt = b * t;
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long scores = fused(bytes) ? b * c.numHeads() * t : 4 * b * c.numHeads() * t * t;
        // RoPE: the half-split form keeps the swapped halves and both products per query and key array; the
        // paired form (float32/64 training, nn.Rope.applyPaired) keeps only its output, plus the q and k weights
        // in pair order (weight-sized copies, kept for the backward)
        boolean paired = pairedRope(bytes);
        long rope = paired ? 0 : 3;
        long pairedWeights = paired ? (q + kv) * c.hiddenSize() : 0;
        return (4 + normSquares(bytes)) * bt * c.hiddenSize() + (4 + rope) * bt * q + (3 + rope) * bt * kv + scores
                + 3 * bt + pairedWeights;
    }

    /** RMSNorm's x² (one BTD array): kept in half precision; float32/64 take the mean square from the row norm. */
    static long normSquares(int bytes) {
        return bytes >= 4 ? 0 : 1;
    }

    /**
     * Layer i's recorded feed-forward half (dense SwiGLU or MoE), in values. The SwiGLU keeps gate, up, σ(gate),
     * silu(gate) and the product (5 F-wide arrays); with the fused SiLU ({@code fused}) σ(gate) is not kept (4).
     */
    static long feedForward(LlmConfig c, int i, long b, long t, int bytes) {
        long bt = b * t;
        long d = c.hiddenSize();
        long swiGlu = fused(bytes) ? 4 : 5;
        long norm = 4 + normSquares(bytes);
        if (c.isMoeLayer(i)) {
            long k = c.moe().topK();
            // router logits + probabilities, k·BT gathered tokens in and out, the experts' SwiGLU on them
            return norm * bt * d + 2 * bt * c.moe().numExperts() + 4 * k * bt * d
                    + swiGlu * k * bt * c.expertIntermediate() + 3 * bt;
        }
        return norm * bt * d + swiGlu * bt * c.intermediateSize() + 3 * bt;
    }

    /** One recorded decoder layer's intermediates, in values (see the class comment). */
    static long layer(LlmConfig c, int i, long b, long t, int bytes) {
        return attention(c, b, t, bytes) + feedForward(c, i, b, t, bytes);
    }

    /**
     * Final norm, logits, log-softmax, and the backward's two logits-sized gradients; with the fused head
     * ({@code train.Losses.headLoss}: the plain path in float32/64) nothing logits-sized is recorded, and its peak
     * is the logits and their gradient together, for a moment (2·BTV).
     */
    static long head(LlmConfig c, long b, long t, int bytes, boolean fusedHead) {
        long bt = b * t;
        return (2 + normSquares(bytes)) * bt * c.hiddenSize() + 3 * bt + (fusedHead ? 2 : 4) * bt * c.vocabSize();
    }

    /** Whether the plain path's loss takes the fused head (the cross-entropy kernel on, float32/64). */
    static boolean fusedHead(int bytes) {
        return fused(bytes) && !"false".equalsIgnoreCase(System.getProperty("mm1.fusedCrossEntropy"));
    }
}
