package io.mm1j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
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
    public record Segment(Function<NDArray, Out> run, boolean trainable) {}

    /**
     * The head's loss and the summed (weighted) auxiliary losses that were part of the objective, read back to
     * Java, and each MoE layer's expert load from the forward.
     */
    public record Result(double loss, double auxLoss, List<int[]> expertLoad) {}

    /**
     * Loss of {@code head(segments(input))} and the gradients of every parameter that requires one, accumulated
     * into the parameters' gradients as a plain backward would.
     *
     * @param input    the first segment's input (token ids, pixels): no gradient flows into it
     * @param segments in forward order
     * @param head     the last segment's output → scalar loss (recorded)
     */
    public static Result gradients(NDArray input, List<Segment> segments, Function<NDArray, NDArray> head) {
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
            double loss;
            NDArray gradOut;
            try (NDScope scope = new NDScope(); GradientCollector gc = collector()) {
                x.setRequiresGradient(true);
                NDArray l = head.apply(x);
                backward(gc, l);
                loss = l.toType(DataType.FLOAT64, false).getDouble();
                gradOut = x.getGradient();
                NDScope.unregister(gradOut);
                scope.suppressNotUsedWarning();
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
                try (NDScope scope = new NDScope(); GradientCollector gc = collector()) {
                    if (needsInputGradient[i]) {
                        in.setRequiresGradient(true);
                    }
                    Out o = seg.run().apply(in);
                    NDArray objective = o.out().mul(gradOut).sum(); // VJP: d/d(out) = gradOut exactly
                    if (o.auxLoss() != null) {
                        objective = objective.add(o.auxLoss());
                    }
                    // Always backward: the segment trains or its input needs a gradient (else the loop stopped
                    // above). DJL's hasGradient() cannot tell here: it reports false for recorded results.
                    backward(gc, objective);
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
     * Checkpointed gradients of a decoder's language-model loss, one segment per layer.
     *
     * @param ids     (B, T) int64 input tokens
     * @param keep    (B, T) 1 for real tokens, 0 for padding, or null
     * @param targets (B, T) int64 next tokens
     * @param mask    (B, T) 1 where the loss counts, or null
     */
    public static Result lmGradients(Decoder decoder, NDArray ids, NDArray keep, NDArray targets, NDArray mask) {
        List<Segment> segments = new ArrayList<>();
        segments.add(new Segment(x -> new Out(decoder.embed(x), null), true));
        return decoderTail(decoder, ids, ids.getShape().get(1), segments, keep, null, 1,
                logits -> Losses.crossEntropy(logits, targets, mask));
    }

    /**
     * Checkpointed gradients of an MM1 model's language-model loss: one segment for the patch embedding, one per
     * ViT block, one for connector + splicing into the token embeddings, one per decoder layer. Frozen components
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
                logits -> Losses.crossEntropy(logits, targets, lossMask));
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
        NDArray ids = in.ids();
        long t = ids.getShape().get(1);
        Decoder decoder = model.decoder();
        if (in.pixels() == null) {
            List<Segment> segments = new ArrayList<>();
            segments.add(new Segment(x -> new Out(model.spliceImages(x, null, imageTokenId), null), true));
            return decoderTail(decoder, ids, t, segments, in.keep(), in.documents(), auxWeight, loss);
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
        return decoderTail(decoder, px, t, segments, in.keep(), in.documents(), auxWeight, loss);
    }

    /**
     * Appends one segment per decoder layer and the LM head + loss, then runs {@link #gradients}. The layers'
     * shared context (masks, rotary angles) is built here, in the caller's scope, so that it outlives the
     * per-segment scopes.
     */
    private static Result decoderTail(Decoder decoder, NDArray input, long t, List<Segment> segments, NDArray keep,
                                      NDArray documents, double auxWeight, Function<NDArray, NDArray> loss) {
        Decoder.Context ctx = decoder.context(Math.toIntExact(t), keep, documents, null);
        NDArray weight = decoder.params().scalar(auxWeight); // cached: safe under autograd (cookbook pitfall 1)
        int[][] loads = new int[decoder.config().numLayers()][];
        for (int i = 0; i < decoder.config().numLayers(); i++) {
            int layer = i;
            segments.add(new Segment(h -> {
                Decoder.Layer out = decoder.layer(ctx, layer, h);
                loads[layer] = out.expertLoad(); // the same routing in the forward and the recomputation
                return new Out(out.h(), out.auxLoss() == null ? null : out.auxLoss().mul(weight));
            }, true));
        }
        Result r = gradients(input, segments, h -> loss.apply(decoder.logits(h, false)));
        List<int[]> expertLoad = new ArrayList<>();
        for (int[] l : loads) {
            if (l != null) {
                expertLoad.add(l);
            }
        }
        return new Result(r.loss(), r.auxLoss(), expertLoad);
    }

    private static void backward(GradientCollector gc, NDArray objective) {
        try {
            gc.backward(objective);
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
