package io.mm1j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mm1j.data.Batch;
import io.mm1j.llm.Decoder;
import io.mm1j.mllm.Mm1Model;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The one training loop of mm1j (pretrain, and every trainer built on it), in nanoGPT's linear order: batch →
 * forward → loss → backward → clip → step → schedule → log → eval → checkpoint.
 *
 * <p>Each batch of {@code data} is one optimizer step's rows (gradAccum·b); gradient accumulation cuts it into
 * {@code gradAccum} micro-batches and weights each token's loss by
 * 1 / (trained tokens of all of them), so k micro-batches of b rows give the gradient of one batch of k·b rows.
 * Steps count completed optimizer steps from 1; the LR of step s is {@link LrSchedule#lr}(s).
 */
public final class TrainLoop {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TrainLoop.class);

    /** Fixed settings of a loop. */
    public record Settings(long totalSteps, long stopAtStep, int gradAccum, double clipGradNorm, double weightDecay,
                           boolean maskBetweenDocuments, long evalInterval, long checkpointInterval,
                           List<String> sourceNames, double flopsPerToken, double gemmGflops,
                           boolean activationCheckpointing, int imageTokenId) {
        /** With mm1j's fixed {@code <image>} id. */
        public Settings(long totalSteps, long stopAtStep, int gradAccum, double clipGradNorm, double weightDecay,
                        boolean maskBetweenDocuments, long evalInterval, long checkpointInterval,
                        List<String> sourceNames, double flopsPerToken, double gemmGflops,
                        boolean activationCheckpointing) {
            this(totalSteps, stopAtStep, gradAccum, clipGradNorm, weightDecay, maskBetweenDocuments, evalInterval,
                    checkpointInterval, sourceNames, flopsPerToken, gemmGflops, activationCheckpointing,
                    io.mm1j.tokenizer.SpecialTokens.IMAGE_ID);
        }
    }

    /** Receives what the loop measures (the CLI draws progress from it; the run writes metrics.jsonl). */
    public interface Listener {
        void onStep(long step, Map<String, Double> metrics);

        void onEval(long step, Map<String, Double> metrics);

        /** Called at checkpoint time with the completed step and the data cursor to resume after it. */
        void onCheckpoint(long step, Batch last);
    }

    private final Mm1Model model;
    private final Optimizer opt;
    private final LrSchedule schedule;
    private final Settings s;
    private final Map<String, List<Batch>> valBatches;
    private final Listener listener;
    private final NDManager manager;
    private DataParallel dp;
    private MixedPrecision.LossScale lossScale;
    private Long rngSeed;

    /**
     * @param valBatches fixed validation batches per source name (evaluated without gradients)
     */
    public TrainLoop(Mm1Model model, Optimizer opt, LrSchedule schedule, Settings settings,
                     Map<String, List<Batch>> valBatches, Listener listener) {
        this.model = model;
        this.opt = opt;
        this.schedule = schedule;
        this.s = settings;
        this.valBatches = valBatches;
        this.listener = listener;
        this.manager = model.params().manager();
    }

    /**
     * Trains over {@code dp}'s workers (its master must be this loop's model): data-parallel replicas and/or
     * mixed-precision working copies. Each step's batch is cut into gradAccum × workers slices, dealt to the workers
     * in turn; their gradients are summed onto the model before clipping, and the update is copied to them after
     * the step.
     */
    public TrainLoop dataParallel(DataParallel dp) {
        if (dp != null && dp.master() != model) {
            throw new IllegalArgumentException("data parallel: the master must be the loop's model");
        }
        this.dp = dp;
        return this;
    }

    /**
     * Re-seeds the engine's random generator before every optimizer step from ({@code seed}, step): the draws of a
     * step (LoRA dropout masks) are then a function of the run's seed and the step alone, so a run resumed from a
     * checkpoint draws the masks an uninterrupted run draws. (libtorch's generator state cannot be read through DJL
     * to be saved with the checkpoint; the step it is derived from is saved.) Without a seed the stream is not
     * touched.
     */
    public TrainLoop rngSeed(long seed) {
        this.rngSeed = seed;
        return this;
    }

    /** The engine seed of optimizer step {@code step} (from 1) of a run seeded {@code seed}: splitmix64 of both. */
    static int stepSeed(long seed, long step) {
        // a non-negative int: DJL's Engine.setRandomSeed takes an int (torch.manual_seed itself takes 64 bits)
        return (int) (io.mm1j.data.SplitMix64.mix(seed * 0x9E3779B97F4A7C15L + step) >>> 33);
    }

    /** FP16 loss scaling ({@link MixedPrecision}): null (the default) for FP32 and BF16. */
    public TrainLoop lossScale(MixedPrecision.LossScale scale) {
        this.lossScale = scale;
        return this;
    }

    /** Consecutive skipped updates (non-finite gradients) after which a run stops with an error. */
    static final int MAX_SKIPPED = 10;
    /** The same with fp16 loss scaling, which halves its scale on every skip (2^-50: nothing left to scale). */
    static final int MAX_SKIPPED_SCALED = 50;

    private int skipped;
    private long lastGoodCheckpoint;
    private boolean checkpointDue;

    /** A run stopped because its updates kept being skipped for non-finite gradients. */
    public static final class Diverged extends io.mm1j.Mm1Exception {
        private final long step;

        Diverged(long step, String message) {
            super(message);
            this.step = step;
        }

        /** The step at which the run stopped. */
        public long step() {
            return step;
        }
    }

    /**
     * Runs optimizer steps {@code startStep+1 … min(totalSteps, stopAtStep)}; returns the last completed step.
     *
     * @param stop polled after every step (SIGINT/SIGTERM): when true, the loop checkpoints and returns
     */
    public long run(Iterator<Batch> data, long startStep, BooleanSupplier stop) {
        lastGoodCheckpoint = startStep; // a resumed run starts from a checkpoint
        long end = Math.min(s.totalSteps(), s.stopAtStep() > 0 ? s.stopAtStep() : Long.MAX_VALUE);
        long step = startStep;
        Batch last = null;
        while (step < end) {
            long t0 = System.nanoTime();
            // 1. batch: one packed batch of gradAccum·b rows per optimizer step, cut into gradAccum micro-batches
            // (packing the whole step at once keeps its rows those of one batch of gradAccum·b rows: the packer
            // ends a batch at a sample boundary, so separately packed micro-batches would drop document tails)
            int replicas = dp == null ? 1 : dp.size();
            int parts = s.gradAccum() * replicas;
            Batch[] micro = split(data.next(), parts);
            long trained = 0;
            for (Batch b : micro) {
                trained += b.trainedTokens();
            }
            last = micro[micro.length - 1];
            // 2–4. forward, loss, backward (gradients accumulate over the micro-batches; with several devices
            // micro-batch i runs on replica i mod replicas, and the replicas' gradients are summed onto the model)
            StepLoss sl = new StepLoss(s.sourceNames().size());
            if (rngSeed != null) { // this step's dropout masks follow from (seed, step): exact on resume
                Engine.getEngine("PyTorch").setRandomSeed(stepSeed(rngSeed, step + 1));
            }
            for (int i = 0; i < micro.length; i++) {
                forwardBackward(dp == null ? model : dp.replica(i % replicas), micro[i], Math.max(1, trained), sl,
                        parts);
            }
            if (dp != null) {
                dp.reduceGradients();
            }
            if (lossScale != null) {
                lossScale.unscale(model.params());
            }
            // 5. clip, 6. step with the scheduled LR (then the replicas get the update)
            double gradNorm = opt.clipGlobalNorm(s.clipGradNorm());
            step++;
            double lr = schedule.lr(step);
            boolean applied = opt.step(lr, s.weightDecay());
            if (lossScale != null) {
                lossScale.update(applied); // fp16 loss scaling skips an update now and then by design
            } else if (!applied) {
                LOG.warn("step {}: gradient norm is {}; the update is skipped", step, gradNorm);
            }
            skipped = applied ? 0 : skipped + 1;
            if (dp != null) {
                dp.broadcast();
            }
            double sec = (System.nanoTime() - t0) / 1e9;
            // 7. log
            listener.onStep(step, stepMetrics(micro, sl, trained, lr, gradNorm, sec));
            if (skipped >= (lossScale != null ? MAX_SKIPPED_SCALED : MAX_SKIPPED)) {
                throw new Diverged(step, "step " + step + ": the last " + skipped + " optimizer updates were "
                        + "skipped (gradient norm " + gradNorm + ", loss " + sl.total / Math.max(1, trained)
                        + "): the run diverged or its weights are not finite; it stops here"
                        + (lastGoodCheckpoint > 0 ? " (the newest checkpoint from before the skipped updates is "
                        + "step-" + lastGoodCheckpoint + "; delete any newer step-N folders to resume from it with "
                        + "another learning rate)" : ""));
            }
            // 8. eval
            if (s.evalInterval() > 0 && (step % s.evalInterval() == 0 || step == s.totalSteps())) {
                listener.onEval(step, evaluate());
            }
            // 9. checkpoint
            boolean stopping = stop.getAsBoolean();
            // a periodic checkpoint due while updates are being skipped for non-finite gradients waits for the next
            // applied update: the weights may already be non-finite, and keep_checkpoints would prune the good ones
            // (fp16 loss scaling skips by design and leaves the weights as they were: no wait; a stop always
            // writes one, as an interruption must)
            if (s.checkpointInterval() > 0 && step % s.checkpointInterval() == 0) {
                checkpointDue = true;
            }
            boolean periodic = checkpointDue && (skipped == 0 || lossScale != null);
            if (stopping || step == end || periodic) {
                listener.onCheckpoint(step, last);
                checkpointDue = false;
                if (skipped == 0 || lossScale != null) {
                    lastGoodCheckpoint = step;
                }
            }
            if (stopping) {
                break;
            }
        }
        return step;
    }

    /**
     * Rows {@code [from, to)} of each of {@code parts} equal slices of {@code b} (the last may be smaller); images
     * keep their order with rows renumbered. Only the last part carries the batch's data cursor.
     */
    static Batch[] split(Batch b, int parts) {
        if (parts <= 1) {
            return new Batch[] {b};
        }
        int rows = (b.batchSize() + parts - 1) / parts;
        java.util.List<Batch> out = new java.util.ArrayList<>();
        int t = b.seqLen();
        for (int from = 0; from < b.batchSize(); from += rows) {
            int to = Math.min(b.batchSize(), from + rows);
            int f = from;
            java.util.List<Batch.ImageSlot> images = b.images().stream()
                    .filter(im -> im.row() >= f && im.row() < to)
                    .map(im -> new Batch.ImageSlot(im.row() - f, im.firstSlot(), im.pixels())).toList();
            out.add(new Batch(to - from, t, java.util.Arrays.copyOfRange(b.tokens(), from * t, to * t),
                    java.util.Arrays.copyOfRange(b.targets(), from * t, to * t),
                    java.util.Arrays.copyOfRange(b.lossMask(), from * t, to * t), images, b.imageTokens(),
                    to == b.batchSize() ? b.cursor() : null,
                    java.util.Arrays.copyOfRange(b.segments(), from * t, to * t),
                    java.util.Arrays.copyOfRange(b.sources(), from * t, to * t)));
        }
        return out.toArray(Batch[]::new);
    }

    /** Token losses of one step, per source. */
    private static final class StepLoss {
        final double[] sum;
        final long[] count;
        double total;
        double aux;
        double balance;
        double z;
        long[][] expertLoad; // (MoE layer, expert) token assignments summed over the micro-batches

        /**
         * Adds one micro-batch's MoE statistics: its router losses (averaged over the MoE layers, then over the
         * {@code parts} micro-batches, as the auxiliary loss is) and its expert load.
         */
        void moe(List<int[]> load, List<io.mm1j.llm.MoeFeedForward.RouterLosses> router, int parts) {
            if (load == null || load.isEmpty()) {
                return;
            }
            if (expertLoad == null) {
                expertLoad = new long[load.size()][load.get(0).length];
            }
            for (int l = 0; l < load.size(); l++) {
                for (int e = 0; e < load.get(l).length; e++) {
                    expertLoad[l][e] += load.get(l)[e];
                }
            }
            for (io.mm1j.llm.MoeFeedForward.RouterLosses r : router) {
                balance += r.balance() / router.size() / parts;
                z += r.z() / router.size() / parts;
            }
        }

        StepLoss(int sources) {
            sum = new double[sources];
            count = new long[sources];
        }
    }

    /**
     * Forward and backward of one micro-batch on {@code model} (the loop's model or a data-parallel replica), its loss
     * weighted by 1 / {@code stepTokens}; {@code parts} micro-batches make the step.
     */
    private void forwardBackward(Mm1Model model, Batch b, long stepTokens, StepLoss sl, int parts) {
        NDManager manager = model.params().manager();
        if (s.activationCheckpointing()) {
            forwardBackwardCheckpointed(model, b, stepTokens, sl, parts);
            return;
        }
        try (NDScope scope = new NDScope()) {
            float[] nll;
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                Decoder.Hidden out = model.hidden(b, s.maskBetweenDocuments(), s.imageTokenId());
                NDArray targets = manager.create(b.targets(), new Shape(b.batchSize(), b.seqLen()));
                NDArray mask = manager.create(b.lossMask(), new Shape(b.batchSize(), b.seqLen()));
                double scale = lossScale == null ? 1 : lossScale.scale(); // FP16: the objective is scaled
                // this micro-batch's share of the step's mean token loss
                Losses.TokenLoss ce = Losses.headLoss(model.decoder(), out.h(), targets, mask, scale / stepTokens);
                NDArray objective = ce.objective();
                if (out.auxLoss() != null) {
                    NDArray k = manager.create((float) parts).toType(out.auxLoss().getDataType(), false);
                    NDArray aux = out.auxLoss().div(k);
                    sl.aux += aux.toType(DataType.FLOAT64, false).getDouble();
                    objective = objective.add(lossScale == null ? aux
                            : aux.mul(manager.create((float) scale).toType(aux.getDataType(), false)));
                    sl.moe(out.expertLoad(), out.routerLosses(), parts);
                }
                gc.backward(objective);
                // the mask's weights (1 for trained tokens; other values weight the objective) as the loss has them
                nll = ce.masked(mask).toType(DataType.FLOAT32, false).toFloatArray();
            }
            accumulate(b, nll, sl);
            scope.suppressNotUsedWarning();
        }
    }

    /**
     * The same step with activation checkpointing ({@code train.activation_checkpointing}): only block inputs are
     * kept in the forward and each block is recomputed in the backward ({@link ActivationCheckpointing}); loss and
     * gradients equal the plain path (tested in float64).
     */
    private void forwardBackwardCheckpointed(Mm1Model model, Batch b, long stepTokens, StepLoss sl, int parts) {
        NDManager manager = model.params().manager();
        double scale = lossScale == null ? 1 : lossScale.scale(); // FP16: the objective is scaled, aux included
        try (NDScope scope = new NDScope()) {
            float[][] nll = new float[1][];
            ActivationCheckpointing.Result r = ActivationCheckpointing.gradients(model,
                    model.inputs(b, s.maskBetweenDocuments()), s.imageTokenId(),
                    scale / parts, (logits, from, to) -> { // rows [from, to) of the batch
                        int t = b.seqLen();
                        NDArray targets = manager.create(java.util.Arrays.copyOfRange(b.targets(), from * t, to * t),
                                new Shape(to - from, t));
                        NDArray mask = manager.create(java.util.Arrays.copyOfRange(b.lossMask(), from * t, to * t),
                                new Shape(to - from, t));
                        // the same fused loss as the plain path; the step's loss is read from the token NLLs kept
                        // here, not from r.loss() (the sum of the objectives, which are not the loss's value)
                        Losses.TokenLoss ce = Losses.tokenLoss(fp32(manager, logits), targets, mask,
                                scale / stepTokens);
                        if (nll[0] == null) {
                            nll[0] = new float[b.batchSize() * t];
                        }
                        System.arraycopy(ce.masked(mask).toType(DataType.FLOAT32, false).toFloatArray(), 0, nll[0],
                                from * t, (to - from) * t);
                        return ce.objective();
                    });
            if (r.expertLoad() != null && !r.expertLoad().isEmpty()) {
                sl.aux += r.auxLoss() / scale;
                sl.moe(r.expertLoad(), r.routerLosses(), parts);
            }
            accumulate(b, nll[0], sl);
            scope.suppressNotUsedWarning();
        }
    }

    /** −log p(target) at every position: (B, T). */
    private static NDArray tokenNll(NDManager manager, NDArray logits, Batch b) {
        NDArray targets = manager.create(b.targets(), new Shape(b.batchSize(), b.seqLen()));
        NDArray logp = fp32(manager, logits).logSoftmax(-1);
        return logp.gather(targets.expandDims(-1), -1).squeeze(-1).neg();
    }

    /**
     * BF16/FP16 logits of a mixed-precision working copy promoted to FP32 for the loss: adding a (1)-shaped FP32
     * zero promotes (a 0-dim one would not) and, unlike {@code toType}, keeps the gradient flowing.
     */
    private static NDArray fp32(NDManager manager, NDArray logits) {
        DataType t = logits.getDataType();
        return t == DataType.BFLOAT16 || t == DataType.FLOAT16
                ? logits.add(manager.zeros(new Shape(1), DataType.FLOAT32)) : logits;
    }

    private static void accumulate(Batch b, float[] maskedNll, StepLoss sl) {
        for (int i = 0; i < maskedNll.length; i++) {
            if (b.lossMask()[i] > 0) {
                sl.total += maskedNll[i];
                int src = b.sources()[i];
                if (src >= 0 && src < sl.sum.length) {
                    sl.sum[src] += maskedNll[i];
                    sl.count[src]++;
                }
            }
        }
    }

    private Map<String, Double> stepMetrics(Batch[] micro, StepLoss sl, long trained, double lr, double gradNorm,
                                            double sec) {
        long tokens = 0;
        long images = 0;
        for (Batch b : micro) {
            tokens += (long) b.batchSize() * b.seqLen();
            images += b.images().size();
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("loss", sl.total / Math.max(1, trained));
        m.put("lr", lr);
        m.put("gradNorm", gradNorm);
        m.put("tokensPerSecond", tokens / sec);
        m.put("imagesPerSecond", images / sec);
        if (s.gemmGflops() > 0) {
            m.put("mfu", s.flopsPerToken() * tokens / sec / 1e9 / s.gemmGflops());
        }
        for (int i = 0; i < sl.sum.length; i++) {
            if (sl.count[i] > 0) {
                m.put("loss/" + s.sourceNames().get(i), sl.sum[i] / sl.count[i]);
            }
        }
        for (int i = 0; i < sl.sum.length && trained > 0; i++) { // the mix by trained tokens (sampling is by item)
            m.put("tokenShare/" + s.sourceNames().get(i), sl.count[i] / (double) trained);
        }
        if (sl.expertLoad != null) {
            m.put("moe/aux", sl.aux);
            m.put("moe/balance", sl.balance);
            m.put("moe/z", sl.z);
            m.put("moe/maxExpertShare", maxShare(sl.expertLoad));
            double[] load = meanLoad(sl.expertLoad);
            for (int e = 0; e < load.length; e++) {
                m.put("moe/load/" + e, load[e]);
            }
        }
        m.put("trainedTokens", (double) trained);
        return m;
    }

    /**
     * Expert load: per expert, the fraction of its layer's routed token assignments (real tokens only; padding is
     * not routed), averaged over the MoE layers; sums to 1, each 1/E when balanced.
     */
    static double[] meanLoad(long[][] loads) {
        double[] out = new double[loads[0].length];
        for (long[] layer : loads) {
            long total = 0;
            for (long c : layer) {
                total += c;
            }
            for (int e = 0; e < out.length && total > 0; e++) {
                out[e] += (double) layer[e] / total / loads.length;
            }
        }
        return out;
    }

    /** The largest fraction of routed tokens any one expert of any MoE layer received (1/E when balanced). */
    private static double maxShare(long[][] loads) {
        double worst = 0;
        for (long[] layer : loads) {
            long total = 0;
            long max = 0;
            for (long c : layer) {
                total += c;
                max = Math.max(max, c);
            }
            worst = Math.max(worst, total == 0 ? 0 : (double) max / total);
        }
        return worst;
    }

    /**
     * Validation loss overall (token-weighted) and per source, without gradients; for a multimodal model also
     * {@code valLossBlind…}: the same batches with the images zeroed, the baseline that shows what the model reads
     * from the pictures.
     */
    public Map<String, Double> evaluate() {
        Map<String, Double> m = validationLoss("valLoss", false);
        if (model.isMultimodal()) {
            m.putAll(validationLoss("valLossBlind", true));
        }
        return m;
    }

    private Map<String, Double> validationLoss(String key, boolean blind) {
        Map<String, Double> m = new LinkedHashMap<>();
        double all = 0;
        long allCount = 0;
        for (Map.Entry<String, List<Batch>> e : valBatches.entrySet()) {
            double sum = 0;
            long count = 0;
            for (Batch vb : e.getValue()) {
                Batch b = blind ? vb.blind() : vb;
                try (NDScope scope = new NDScope()) {
                    Decoder.Output out = model.forward(b, s.maskBetweenDocuments(), s.imageTokenId());
                    float[] nll = tokenNll(manager, out.logits(), b).toType(DataType.FLOAT32, false).toFloatArray();
                    for (int i = 0; i < nll.length; i++) {
                        if (b.lossMask()[i] > 0) {
                            sum += nll[i];
                            count++;
                        }
                    }
                    scope.suppressNotUsedWarning();
                }
            }
            if (count > 0) {
                m.put(key + "/" + e.getKey(), sum / count);
            }
            all += sum;
            allCount += count;
        }
        m.put(key, allCount == 0 ? Double.NaN : all / allCount);
        return m;
    }
}
