package io.mm1j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.mm1j.Mm1Exception;
import io.mm1j.llm.Decoder;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.BlockScope;
import io.mm1j.vision.VisionTransformer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Activation checkpointing by segment recomputation (Chen et al. 2016, "Training Deep Nets with Sublinear Memory
 * Cost"; PyTorch's {@code torch.utils.checkpoint}, which DJL lacks). The forward pass runs without gradient
 * recording and keeps only each segment's input (a block's residual stream); the backward pass walks the segments
 * in reverse, re-runs each one under a fresh gradient recording from its saved input (detached, now requiring a
 * gradient) and back-propagates the vector-Jacobian product {@code sum(out · gradOut)}: its gradient with respect
 * to {@code out} is exactly {@code gradOut}, so the segment's parameters receive their true gradients (they
 * accumulate, the collector does not zero them) and the input's gradient is the next segment's {@code gradOut}.
 *
 * <p>Memory: the segment inputs plus one segment's recorded graph, instead of every layer's graph; cost: one extra
 * forward per segment. Losses and gradients equal the plain forward + backward (pinned in float64 by a test).
 *
 * <p>Use it in place of forward + {@code gc.backward(loss)}, outside any {@code GradientCollector}:
 * <pre>
 *   ActivationCheckpointing.Result r = ActivationCheckpointing.gradients(model,
 *           model.inputs(batch, maskBetweenDocuments), SpecialTokens.IMAGE_ID, 1.0 / gradAccum,
 *           logits -> myLoss(logits));          // gradients accumulate like gc.backward's
 *   double norm = opt.clipGlobalNorm(clip);
 *   opt.step(lr, weightDecay);
 * </pre>
 */
public final class ActivationCheckpointing {
    private ActivationCheckpointing() {}

    /** A segment's output and, for an MoE layer, its weighted auxiliary loss (part of the objective), else null. */
    public record Out(NDArray out, NDArray auxLoss) {}

    /**
     * One recomputable piece of the forward pass.
     *
     * @param run       input → output; must compute the same thing every time (no sampling, no dropout)
     * @param trainable whether any of its parameters train (a frozen prefix needs no recomputation at all)
     */
    public record Segment(Function<NDArray, Out> run, boolean trainable, RowRun rows, int rowsPerChunk) {
        public Segment(Function<NDArray, Out> run, boolean trainable) {
            this(run, trainable, null, Integer.MAX_VALUE);
        }
    }

    /**
     * A segment that treats batch rows independently (no auxiliary loss, nothing shared across rows): rows
     * {@code [from, to)} of its input → the same rows of its output. Its backward then re-runs it over chunks of
     * rows, one chunk's graph recorded at a time.
     */
    @FunctionalInterface
    public interface RowRun {
        NDArray apply(NDArray rows, int from, int to);
    }

    /**
     * A loss that is a sum over batch rows (e.g. masked token NLL over a fixed denominator): the share of rows
     * {@code [from, to)} given their logits {@code (to - from, T, V)}. The head then runs over chunks of rows, one
     * chunk's logits and softmax at a time, and the chunks' losses add up to the batch's. It may return a surrogate
     * objective with the loss's gradient but another value ({@link Losses#tokenLoss}); {@link Result#loss} is then
     * the sum of those values, and the caller keeps the loss itself.
     */
    @FunctionalInterface
    public interface RowLoss {
        NDArray apply(NDArray logits, int from, int to);
    }


    /**
     * The head's loss and the summed (weighted) auxiliary losses that were part of the objective, read back to
     * Java, and each MoE layer's expert load from the forward.
     */
    public record Result(double loss, double auxLoss, List<int[]> expertLoad,
                         List<io.mm1j.llm.MoeFeedForward.RouterLosses> routerLosses) {
        public Result(double loss, double auxLoss, List<int[]> expertLoad) {
            this(loss, auxLoss, expertLoad, List.of());
        }
    }

    /**
     * Loss of {@code head(segments(input))} and the gradients of every parameter that requires one, accumulated
     * into the parameters' gradients as a plain backward would.
     *
     * @param input    the first segment's input (token ids, pixels): no gradient flows into it
     * @param segments in forward order
     * @param head     the last segment's output → scalar loss (recorded)
     */
    public static Result gradients(NDArray input, List<Segment> segments, Function<NDArray, NDArray> head) {
        return gradients(input, segments, (x, from, to) -> head.apply(x), Integer.MAX_VALUE);
    }

    /**
     * {@link #gradients(NDArray, List, Function)} with a head that is a sum over batch rows, run over chunks of
     * {@code rowsPerChunk} rows (one chunk's head graph alive at a time).
     *
     * @param head (the last segment's output rows [from, to)) → their share of the loss (recorded)
     */
    public static Result gradients(NDArray input, List<Segment> segments, RowLoss head, int rowsPerChunk) {
        if (rowsPerChunk < 1) {
            throw new Mm1Exception("activation checkpointing: rowsPerChunk must be >= 1, got " + rowsPerChunk);
        }
        int n = segments.size();
        boolean[] needsInputGradient = new boolean[n];
        boolean upstream = false;
        for (int i = 0; i < n; i++) {
            needsInputGradient[i] = upstream; // some earlier segment trains, so the gradient must reach it
            upstream |= segments.get(i).trainable();
        }
        try (NDScope outer = new NDScope()) {
            NDArray[] inputs = new NDArray[n];
            double aux = 0;
            NDArray x = input;
            boolean gradMode = JniUtils.isGradMode();
            JniUtils.setGradMode(false); // the forward keeps nothing for autograd (and frees as it goes)
            try {
                for (int i = 0; i < n; i++) {
                    inputs[i] = x;
                    Segment seg = segments.get(i);
                    NDArray in = x;
                    double[] segmentAux = new double[1];
                    x = BlockScope.run(() -> {
                        Out o = seg.run().apply(in);
                        if (o.auxLoss() != null) {
                            segmentAux[0] = o.auxLoss().toType(DataType.FLOAT64, false).getDouble();
                        }
                        return o.out();
                    });
                    aux += segmentAux[0];
                }
            } finally {
                JniUtils.setGradMode(gradMode);
            }
            double loss = 0;
            NDArray gradOut;
            int rows = Math.toIntExact(x.getShape().get(0));
            if (rowsPerChunk >= rows) {
                try (NDScope scope = new NDScope(); GradientCollector gc = collector()) {
                    x.setRequiresGradient(true);
                    NDArray l = head.apply(x, 0, rows);
                    backward(gc, l);
                    loss = l.toType(DataType.FLOAT64, false).getDouble();
                    gradOut = x.getGradient();
                    NDScope.unregister(gradOut);
                    scope.suppressNotUsedWarning();
                }
            } else {
                NDList parts = new NDList();
                for (int from = 0; from < rows; from += rowsPerChunk) {
                    int to = Math.min(rows, from + rowsPerChunk);
                    try (NDScope scope = new NDScope(); GradientCollector gc = collector()) {
                        NDArray rowsIn = x.get(new NDIndex("{}:{}", from, to)).duplicate(); // a leaf of its own
                        rowsIn.setRequiresGradient(true);
                        NDArray l = head.apply(rowsIn, from, to);
                        backward(gc, l); // parameter gradients accumulate over the chunks
                        loss += l.toType(DataType.FLOAT64, false).getDouble();
                        NDArray g = rowsIn.getGradient();
                        NDScope.unregister(g);
                        parts.add(g);
                        scope.suppressNotUsedWarning();
                    }
                }
                gradOut = NDArrays.concat(parts, 0);
                parts.close();
            }
            if (x != input) {
                x.close();
            }
            for (int i = n - 1; i >= 0; i--) {
                Segment seg = segments.get(i);
                if (!seg.trainable() && !needsInputGradient[i]) {
                    break; // nothing before here trains either: the rest of the backward is dead work
                }
                NDArray in = inputs[i];
                NDArray next = null;
                int inRows = Math.toIntExact(in.getShape().get(0));
                if (seg.rows() != null && seg.rowsPerChunk() < inRows) {
                    next = chunkedBackward(seg, in, gradOut, needsInputGradient[i]);
                } else try (NDScope scope = new NDScope(); GradientCollector gc = collector()) {
                    if (needsInputGradient[i]) {
                        in.setRequiresGradient(true);
                    }
                    Out o = seg.run().apply(in);
                    // Always backward: the segment trains or its input needs a gradient (else the loop stopped
                    // above). DJL's hasGradient() cannot tell here: it reports false for recorded results.
                    if (o.auxLoss() == null) {
                        vjp(o.out(), gradOut); // torch backward(out, grad_tensors=gradOut)
                    } else { // two roots: d/d(out) of sum(out · gradOut) is gradOut exactly
                        backward(gc, o.out().mul(gradOut).sum().add(o.auxLoss()));
                    }
                    if (needsInputGradient[i]) {
                        next = in.getGradient();
                        NDScope.unregister(next);
                    }
                    scope.suppressNotUsedWarning();
                }
                gradOut.close();
                gradOut = next;
                if (in != input) {
                    in.close(); // its checkpoint is spent
                }
                if (gradOut == null) {
                    break;
                }
            }
            if (gradOut != null) {
                gradOut.close();
            }
            outer.suppressNotUsedWarning();
            return new Result(loss, aux, List.of());
        }
    }

    /**
     * A row-separable segment's backward over chunks of its batch rows: each chunk re-run under its own recording
     * and back-propagated with its rows of {@code gradOut}; parameter gradients accumulate over the chunks, the
     * input's gradient (returned, or null when not needed) is gathered from theirs.
     */
    private static NDArray chunkedBackward(Segment seg, NDArray in, NDArray gradOut, boolean inputGradient) {
        int rows = Math.toIntExact(in.getShape().get(0));
        NDList parts = new NDList();
        for (int from = 0; from < rows; from += seg.rowsPerChunk()) {
            int to = Math.min(rows, from + seg.rowsPerChunk());
            try (NDScope scope = new NDScope(); GradientCollector gc = collector()) {
                NDIndex idx = new NDIndex("{}:{}", from, to);
                NDArray x = in.get(idx).duplicate(); // a leaf of its own
                if (inputGradient) {
                    x.setRequiresGradient(true);
                }
                vjp(seg.rows().apply(x, from, to), gradOut.get(idx));
                if (inputGradient) {
                    NDArray g = x.getGradient();
                    NDScope.unregister(g);
                    parts.add(g);
                }
                scope.suppressNotUsedWarning();
            }
        }
        if (!inputGradient) {
            return null;
        }
        NDArray next = NDArrays.concat(parts, 0);
        parts.close();
        return next;
    }

    /**
     * Checkpointed gradients of a decoder's language-model loss, two segments per layer (attention, feed-forward).
     *
     * @param ids     (B, T) int64 input tokens
     * @param keep    (B, T) 1 for real tokens, 0 for padding, or null
     * @param targets (B, T) int64 next tokens
     * @param mask    (B, T) 1 where the loss counts, or null
     */
    public static Result lmGradients(Decoder decoder, NDArray ids, NDArray keep, NDArray targets, NDArray mask) {
        long t = ids.getShape().get(1);
        return lmGradients(decoder, ids, keep, targets, mask, headRows(t, decoder.config().vocabSize(),
                decoder.params().dtype()), BUDGET);
    }

    /** {@link #lmGradients(Decoder, NDArray, NDArray, NDArray, NDArray)} with explicit rows per chunk. */
    static Result lmGradients(Decoder decoder, NDArray ids, NDArray keep, NDArray targets, NDArray mask,
                              int headRows, int segmentRows) {
        List<Segment> segments = new ArrayList<>();
        segments.add(new Segment(x -> new Out(decoder.embed(x), null), true));
        long t = ids.getShape().get(1);
        return decoderTail(decoder, ids, t, segments, keep, null, 1, meanTokenLoss(targets, mask, decoder.params()
                .dtype()), headRows, segmentRows);
    }

    /** Rows per chunk of a recorded half-layer: as {@link io.mm1j.config.MemoryModel} sizes them. */
    private static final int BUDGET = 0;

    /**
     * Checkpointed gradients of an MM1 model's language-model loss: one segment for the patch embedding, one per
     * ViT block, one for connector + splicing into the token embeddings, two per decoder layer (attention and
     * feed-forward halves). Frozen components
     * (e.g. the encoder) are not recomputed in the backward.
     *
     * @param ids          (B, T) int64 with k {@code imageTokenId} positions per image
     * @param pixels       (N, 3, H, W) in slot order, or null when the batch has no images
     * @param keep         (B, T) 1 for real tokens, 0 for padding, or null
     * @param targets      (B, T) int64 next tokens
     * @param lossMask     (B, T) 1 where the loss counts (no loss on image slots or padding), or null
     */
    public static Result lmGradients(Mm1Model model, NDArray ids, NDArray pixels, int imageTokenId, NDArray keep,
                                     NDArray targets, NDArray lossMask) {
        return gradients(model, new Mm1Model.BatchInputs(ids, pixels, keep, null), imageTokenId, 1,
                meanTokenLoss(targets, lossMask, model.params().dtype()));
    }

    /**
     * The trainer's entry point: checkpointed gradients for a packed batch, with the trainer's own loss on the
     * logits, in place of {@code model.forward(batch, maskBetweenDocuments)} + loss + {@code gc.backward}.
     *
     * @param in        {@link Mm1Model#inputs} of the batch
     * @param auxWeight factor on the MoE auxiliary loss in the objective (e.g. 1/gradAccum)
     * @param loss      logits (B, T, V) → scalar loss; runs under gradient recording (read anything it needs to
     *                  Java inside: its arrays are closed when the head's backward is done)
     */
    public static Result gradients(Mm1Model model, Mm1Model.BatchInputs in, int imageTokenId, double auxWeight,
                                   Function<NDArray, NDArray> loss) {
        return gradients(model, in, imageTokenId, auxWeight, (logits, from, to) -> loss.apply(logits),
                Integer.MAX_VALUE, BUDGET);
    }

    /**
     * The trainer's entry point with a loss that sums over batch rows: the LM head and loss run over chunks of
     * rows within {@link io.mm1j.config.MemoryModel#HEAD_CHUNK_BYTES}, so the (B, T, V) logits and their softmax
     * are never all alive.
     */
    public static Result gradients(Mm1Model model, Mm1Model.BatchInputs in, int imageTokenId, double auxWeight,
                                   RowLoss loss) {
        return gradients(model, in, imageTokenId, auxWeight, loss, headRows(in.ids().getShape().get(1),
                model.decoder().config().vocabSize(), model.params().dtype()), BUDGET);
    }

    /** Rows of T tokens per LM-head chunk ({@link io.mm1j.config.MemoryModel#checkpointedHeadRows}). */
    static int headRows(long t, int vocab, DataType dtype) {
        return io.mm1j.config.MemoryModel.checkpointedHeadRows(t, vocab, dtype.getNumOfBytes());
    }

    /**
     * {@link Losses#crossEntropy} as a sum over rows: each chunk's masked NLL over the whole batch's token count,
     * so the chunks add up to the batch mean. The gradient comes from {@link Losses#tokenLoss} (the trainer's
     * fused loss); the returned scalar carries the loss's value: {@code objective + (loss − objective)}, the
     * difference not recorded, so the value is the loss up to one rounding and the gradient the objective's.
     */
    static RowLoss meanTokenLoss(NDArray targets, NDArray mask, DataType dtype) {
        double count = Losses.tokenCount(targets, mask);
        return (logits, from, to) -> {
            NDIndex rows = new NDIndex("{}:{}", from, to);
            NDArray m = mask == null ? null : mask.get(rows);
            Losses.TokenLoss ce = Losses.tokenLoss(logits, targets.get(rows), m, 1 / count);
            NDArray nll = ce.masked(m);
            NDArray loss = nll.sum().div(logits.getManager().create(count).toType(nll.getDataType(), false));
            NDArray objective = ce.objective();
            return objective.add(loss.toType(objective.getDataType(), false).sub(objective.stopGradient()));
        };
    }

    /**
     * {@link #gradients(Mm1Model, Mm1Model.BatchInputs, int, double, RowLoss)} with an explicit chunk size, for
     * the LM head and every row-separable decoder half alike.
     */
    public static Result gradients(Mm1Model model, Mm1Model.BatchInputs in, int imageTokenId, double auxWeight,
                                   RowLoss loss, int rowsPerChunk) {
        return gradients(model, in, imageTokenId, auxWeight, loss, rowsPerChunk, rowsPerChunk);
    }

    private static Result gradients(Mm1Model model, Mm1Model.BatchInputs in, int imageTokenId, double auxWeight,
                                    RowLoss loss, int rowsPerChunk, int segmentRows) {
        NDArray ids = in.ids();
        long t = ids.getShape().get(1);
        Decoder decoder = model.decoder();
        if (in.pixels() == null) {
            List<Segment> segments = new ArrayList<>();
            segments.add(new Segment(x -> new Out(model.spliceImages(x, null, imageTokenId), null), true));
            return decoderTail(decoder, ids, t, segments, in.keep(), in.documents(), auxWeight, loss, rowsPerChunk,
                segmentRows);
        }
        VisionTransformer vit = model.vision();
        if (vit == null) {
            throw new Mm1Exception("model '" + model.config().name() + "' is text-only (no image encoder); it cannot "
                    + "take images");
        }
        NDArray px = in.pixels().getDataType() == model.params().dtype() ? in.pixels()
                : in.pixels().toType(model.params().dtype(), false);
        boolean vision = model.params().isTrainable(VisionTransformer.PATCH);
        List<Segment> segments = new ArrayList<>();
        segments.add(new Segment(x -> new Out(vit.embeddings(x), null), vision));
        for (int i = 0; i < vit.depth(); i++) {
            int layer = i;
            segments.add(new Segment(h -> new Out(vit.block(h, layer), null), vision));
        }
        segments.add(new Segment(h -> new Out(model.spliceImages(ids,
                model.perPicture(model.connector().forward(h.get(":, 1:, :"))), imageTokenId), null), true)); // patch tokens → k each
        return decoderTail(decoder, px, t, segments, in.keep(), in.documents(), auxWeight, loss, rowsPerChunk,
                segmentRows);
    }

    /**
     * Appends one segment per decoder layer and the LM head + loss, then runs {@link #gradients}. The layers'
     * shared context (masks, rotary angles) is built here, in the caller's scope, so that it outlives the
     * per-segment scopes.
     */
    private static Result decoderTail(Decoder decoder, NDArray input, long t, List<Segment> segments, NDArray keep,
                                      NDArray documents, double auxWeight, RowLoss loss, int rowsPerChunk,
                                      int segmentRows) {
        Decoder.Context ctx = decoder.context(Math.toIntExact(t), keep, documents, null);
        NDArray weight = decoder.params().scalar(auxWeight); // cached: safe under autograd (cookbook pitfall 1)
        int[][] loads = new int[decoder.config().numLayers()][];
        io.mm1j.llm.MoeFeedForward.RouterLosses[] router =
                new io.mm1j.llm.MoeFeedForward.RouterLosses[decoder.config().numLayers()];
        io.mm1j.config.LlmConfig c = decoder.config();
        int bytes = decoder.params().dtype().getNumOfBytes();
        int attentionRows = segmentRows != BUDGET ? segmentRows
                : io.mm1j.config.MemoryModel.checkpointedAttentionRows(c, t, bytes);
        for (int i = 0; i < decoder.config().numLayers(); i++) {
            int layer = i;
            // two segments per layer (attention half, feed-forward half): one half's graph recorded at a time, and
            // in the backward over chunks of rows (within MemoryModel's budget) when the half is row-separable
            segments.add(new Segment(h -> new Out(decoder.attentionHalf(ctx, layer, h), null), true,
                    (h, from, to) -> decoder.attentionHalf(ctx.rows(from, to), layer, h), attentionRows));
            RowRun ffRows = c.isMoeLayer(i) ? null // routing losses are over the whole batch
                    : (h, from, to) -> decoder.feedForwardHalf(ctx.rows(from, to), layer, h).h();
            segments.add(new Segment(h -> {
                Decoder.Layer out = decoder.feedForwardHalf(ctx, layer, h);
                loads[layer] = out.expertLoad(); // the same routing in the forward and the recomputation
                router[layer] = out.routerLosses();
                return new Out(out.h(), out.auxLoss() == null ? null : out.auxLoss().mul(weight));
            }, true, ffRows, segmentRows != BUDGET ? segmentRows
                    : io.mm1j.config.MemoryModel.checkpointedFeedForwardRows(c, layer, t, bytes)));
        }
        Result r = gradients(input, segments, (h, from, to) -> loss.apply(decoder.logits(h, false), from, to),
                rowsPerChunk);
        List<int[]> expertLoad = new ArrayList<>();
        List<io.mm1j.llm.MoeFeedForward.RouterLosses> routerLosses = new ArrayList<>();
        for (int i = 0; i < loads.length; i++) {
            if (loads[i] != null) {
                expertLoad.add(loads[i]);
                routerLosses.add(router[i]);
            }
        }
        return new Result(r.loss(), r.auxLoss(), expertLoad, routerLosses);
    }

    private static void backward(GradientCollector gc, NDArray objective) {
        try {
            gc.backward(objective);
        } catch (ai.djl.engine.EngineException e) {
            throw new Mm1Exception("activation checkpointing: nothing to differentiate (" + e.getMessage()
                    + "); were the parameters' gradients enabled (ParamStore.enableGradients)?", e);
        }
    }

    /** Vector-Jacobian product: accumulates {@code gradOut}ᵀ·∂out/∂θ into every leaf's gradient. */
    private static void vjp(NDArray out, NDArray gradOut) {
        try {
            JniUtils.backward((ai.djl.pytorch.engine.PtNDArray) out, (ai.djl.pytorch.engine.PtNDArray) gradOut,
                    false, false);
        } catch (ai.djl.engine.EngineException e) {
            throw new Mm1Exception("activation checkpointing: nothing to differentiate (" + e.getMessage()
                    + "); were the parameters' gradients enabled (ParamStore.enableGradients)?", e);
        }
    }

    private static GradientCollector collector() {
        try {
            return Engine.getEngine("PyTorch").newGradientCollector();
        } catch (IllegalStateException e) {
            throw new Mm1Exception("activation checkpointing records its own gradients; call it outside a "
                    + "GradientCollector (" + e.getMessage() + ")");
        }
    }
}
