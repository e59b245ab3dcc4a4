package io.mm1j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.data.MixtureSampler;
import io.mm1j.encoder.EncoderModel;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.OutputDir;
import io.mm1j.tensor.Engines;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code mm1 clip}: pre-training of the image encoder (MM1 §3.1, "Image Encoder Pre-training": MM1 compares a
 * contrastive CLIP encoder with a reconstructive AIM encoder) into a run folder with the same contract as
 * {@code mm1 pretrain} (DESIGN.md "Run folders"): {@code run.json}, {@code tokenizer.json}, {@code data/} (the
 * synthetic world, when used), {@code checkpoints/step-N/} with exact resume, {@code metrics.jsonl},
 * {@code plots/*.png}, {@code summary.json} — and, when complete, {@code encoder/}: the ViT as a Hugging Face
 * {@code CLIPVisionModel} folder that {@code mm1 pretrain --set model.vision.init=runs/NAME/encoder} reads.
 *
 * <p>The loop reads in nanoGPT's order: batch → forward → loss → backward → clip → step (→ clamp the temperature)
 * → log → eval → checkpoint. Each step draws {@code train.batch_size} image-caption pairs; the caption of an image
 * with several (COCO has five) and AIM's prefix lengths are pure functions of (seed, step, row), and the data
 * cursor is the checkpoint's, so a resumed run logs the same losses as one that never stopped.
 */
public final class EncoderPretrainer {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(EncoderPretrainer.class);

    /** The command's config keys and defaults. */
    public static final String DEFAULTS = "/train/clip-defaults.json";

    /** Keys a resume must not change. */
    static final List<String> FIXED_ON_RESUME = List.of("objective", "model", "tokenizer", "data", "train.seed",
            "train.batch_size");

    /** What the CLI passes. */
    public record Options(Path out, RunConfig config, boolean resume, boolean overwrite, long stopAtStep) {}

    /** What a finished (or stopped) run reports. */
    public record Result(Path runDir, long step, boolean complete, ObjectNode summary) {}

    private EncoderPretrainer() {}

    /** The config of {@code mm1 clip}: defaults → file → flags → {@code --set}, then checked. */
    public static RunConfig config(Path file, Map<String, String> shorthand, List<String> sets) {
        RunConfig rc = RunConfig.resolveAgainst(RunConfig.defaults(DEFAULTS), file, shorthand, sets);
        EncoderRunConfig.validate(rc);
        return rc;
    }

    public static Result run(Options o, Pretrainer.Progress progress) {
        return Pretrainer.inRunFolder(o.out(), dir -> new Run(o, dir, progress).go());
    }

    /** One run, top to bottom. */
    private static final class Run {
        private final Options o;
        private final Path dir;
        /** Called when the first step is logged (a new run's --overwrite then deletes the old files). */
        private Runnable started = () -> { };
        private final Pretrainer.Progress progress;
        private final RunConfig rc;

        Run(Options o, Path dir, Pretrainer.Progress progress) {
            this.o = o;
            this.dir = dir;
            this.progress = progress;
            this.rc = o.config();
        }

        Result go() {
            // 1. the run folder: a new run, or the newest checkpoint of an old one
            if (o.resume()) {
                Pretrainer.recoverOverwritten(dir);
                Path ckpt = Checkpoint.forResume(dir);
                Checkpoint.State state = Checkpoint.readState(ckpt);
                checkUnchanged(state.config(), ckpt);
                Pretrainer.checkDataUnchanged(dir, rc, ckpt);
                Pretrainer.refuseFinished(dir, ckpt, state.step(), rc.integer("train.steps"), "encoder");
                List<ResumeChanges.Change> changes = ResumeChanges.between(RunConfig.ofResolvedAgainst(
                        RunConfig.defaults(DEFAULTS), state.config(), ckpt.resolve("state.json").toString()).tree(),
                        rc.tree());
                ResumeChanges.log(changes, state.step(), false);
                Pretrainer.checkStopAt(o.stopAtStep(), rc.integer("train.steps"), state.step());
                ResumeChanges.record(dir.resolve("run.json"), rc, state.step(), changes, null);
                return train(state, ckpt);
            }
            Pretrainer.checkStopAt(o.stopAtStep(), rc.integer("train.steps"), 0);
            return Pretrainer.newRun(dir, o.overwrite(), started -> {
                this.started = started;
                ObjectNode r = rc.tree();
                ObjectNode meta = r.putObject("_run");
                meta.put("command", "clip");
                meta.put("gitCommit", Pretrainer.gitCommit());
                meta.put("djl", Engine.getDjlVersion());
                meta.put("java", System.getProperty("java.version"));
                meta.set("data", RunData.fingerprints(rc)); // what a resume checks its data against
                AtomicFiles.writeString(dir.resolve("run.json"), r.toPrettyString());
                return train(null, null);
            });
        }

        private Result train(Checkpoint.State state, Path ckpt) {
            try (NDManager root = Engines.newRootManager(rc.integer("train.seed"))) {
                return train(root, state, ckpt);
            }
        }

        private void checkUnchanged(JsonNode saved, Path ckpt) {
            RunConfig before = RunConfig.ofResolvedAgainst(RunConfig.defaults(DEFAULTS), saved,
                    ckpt.resolve("state.json").toString());
            for (String key : FIXED_ON_RESUME) {
                String diff = Pretrainer.firstDifference(before.node(key), rc.node(key), key);
                if (diff != null) {
                    throw new Mm1Exception("--resume: '" + diff + "' differs from the checkpoint's run ("
                            + ckpt.getFileName() + "): " + before.node(diff) + " before, " + rc.node(diff) + " now");
                }
            }
        }

        private Result train(NDManager root, Checkpoint.State state, Path ckpt) {
            // 2. data and tokenizer
            io.mm1j.config.VisionConfig vision = EncoderRunConfig.vision(rc);
            List<RunData.Source> sources = EncoderRunConfig.sources(rc, dir, vision.imageSize());
            Path tokFile = dir.resolve("tokenizer.json");
            if (!Files.isRegularFile(tokFile)) {
                RunData.writeTokenizer(rc, sources, 1024, tokFile);
            }
            try (Tokenizer tok = Tokenizer.load(tokFile)) {
                // 3. model: fresh or from the checkpoint
                EncoderModel.Config cfg = EncoderRunConfig.model(rc, vision, tok.vocabSize());
                EncoderModel model = ckpt != null ? EncoderModel.load(cfg, root, ckpt) : EncoderModel.init(cfg, root);
                if (ckpt != null) {
                    try {
                        Checkpoint.checkFinite(model.params().all(), ckpt, name -> true);
                    } catch (RuntimeException e) {
                        model.close();
                        throw e;
                    }
                }
                model.params().enableGradients();
                try (model; AdamW opt = new AdamW(model.params(), rc.data("optim.beta1"), rc.data("optim.beta2"),
                        rc.data("optim.eps"))) {
                    if (state != null) {
                        Checkpoint.loadOptimizer(ckpt, opt, state.optimizerStep());
                    }
                    return loop(model, opt, tok, sources, state);
                }
            }
        }

        private Result loop(EncoderModel model, AdamW opt, Tokenizer tok, List<RunData.Source> sources,
                            Checkpoint.State state) {
            long seed = rc.integer("train.seed");
            int batch = rc.integer("train.batch_size");
            List<MixtureSampler.Source> train = new ArrayList<>();
            for (RunData.Source s : sources) {
                train.add(new MixtureSampler.Source(s.name(), s.weight(), s.train()));
            }
            MixtureSampler sampler = state == null ? new MixtureSampler(train, seed)
                    : MixtureSampler.resume(train, seed, state.cursor());
            int size = model.config().vision().imageSize();
            Function<java.awt.image.BufferedImage, float[]> pixels = Pretrainer.clipPixels(size);
            PairBatches batches = new PairBatches(sampler, pixels, tok, model.config(), seed, batch);
            PairBatches.Held val = rc.integer("train.eval_interval") > 0
                    ? PairBatches.held(sources, pixels, tok, model.config(), rc.integer("train.eval_pairs")) : null;
            long total = rc.integer("train.steps");
            long end = Math.min(total, o.stopAtStep() > 0 ? o.stopAtStep() : total);
            LrSchedule schedule = new LrSchedule(rc.data("optim.lr"), rc.integer("optim.warmup_steps"), (int) total,
                    rc.data("optim.min_lr_ratio"));
            Pretrainer.warnIfAllWarmup(rc);
            EncoderEval eval = new EncoderEval(model, batch, seed);
            long start = state == null ? 0 : state.step();
            double best = state == null ? Double.NaN : state.bestValLoss();
            Map<String, Double> lastEval = new LinkedHashMap<>();
            long t0 = System.nanoTime();
            double imagesPerSecond = 0;
            long timed = 0;
            SignalStop signal = new SignalStop("clip", dir.resolve("checkpoints"));
            long step = start;
            try (MetricsLog metrics = new MetricsLog(dir.resolve("metrics.jsonl"), start)) {
                progress.start(start, end, describe(model));
                int skipped = 0; // consecutive updates skipped for a non-finite gradient
                while (step < end) {
                    long ts = System.nanoTime();
                    // 1. batch
                    PairBatches.Batch b = batches.next(step + 1);
                    double dataSec = (System.nanoTime() - ts) / 1e9;
                    // 2–4. forward, loss, backward
                    double loss = forwardBackward(model, b);
                    // 5. clip, 6. step with the scheduled LR; the temperature stays within CLIP's bound
                    double gradNorm = opt.clipGlobalNorm(rc.data("optim.clip_grad_norm"));
                    step++;
                    double lr = schedule.lr(step);
                    if (!opt.step(lr, rc.data("optim.weight_decay"))) {
                        LOG.warn("step {}: gradient norm is {}; the update is skipped", step, gradNorm);
                        if (++skipped >= TrainLoop.MAX_SKIPPED) {
                            throw new Mm1Exception("step " + step + ": the last " + skipped + " optimizer updates "
                                    + "were skipped (gradient norm " + gradNorm + ", loss " + loss + "): the run "
                                    + "diverged or its weights are not finite; it stops here (no checkpoint of this "
                                    + "state is written; resume from an earlier one with another learning rate)");
                        }
                    } else {
                        skipped = 0;
                    }
                    model.clampLogitScale();
                    double sec = (System.nanoTime() - ts) / 1e9;
                    // 7. log
                    Map<String, Double> m = new LinkedHashMap<>();
                    m.put("loss", loss);
                    m.put("lr", lr);
                    m.put("gradNorm", gradNorm);
                    m.put("imagesPerSecond", b.size() / sec);
                    m.put("dataSeconds", dataSec); // reading, decoding and preprocessing the pairs
                    if (model.config().objective() == EncoderModel.Objective.CLIP) {
                        m.put("logitScale", model.logitScale());
                    }
                    m.put("rssBytes", (double) io.mm1j.bench.PeakRss.currentBytes());
                    if (step > start + 1) { // the first step of a process includes warm-up
                        imagesPerSecond += b.size() / sec;
                        timed++;
                    }
                    metrics.log(step, m);
                    started.run(); // a step is logged: an --overwrite's old files can go
                    progress.step(step, m);
                    // 8. eval
                    long every = rc.integer("train.eval_interval");
                    if (val != null && (step % every == 0 || step == total)) {
                        Map<String, Double> e = eval.evaluate(val);
                        lastEval.clear();
                        lastEval.putAll(e);
                        if (Double.isNaN(best) || e.get("valLoss") < best) {
                            best = e.get("valLoss");
                        }
                        metrics.log(step, e);
                        progress.eval(step, e);
                        EncoderEval.plots(dir.resolve("plots"), metrics);
                    }
                    // 9. checkpoint
                    boolean stopping = signal.requested();
                    long ci = rc.integer("train.checkpoint_interval");
                    if (stopping || step == end || (ci > 0 && step % ci == 0)) {
                        Checkpoint.write(dir.resolve("checkpoints"), model::save, opt, new Checkpoint.State(step,
                                opt.stepCount(), sampler.cursor(), best, rc.tree()),
                                rc.integer("train.keep_checkpoints"), tok.file());
                        signal.checkpointed(step);
                    }
                    if (stopping) {
                        break;
                    }
                }
                progress.finish();
                EncoderEval.plots(dir.resolve("plots"), metrics);
            } catch (RuntimeException | Error e) {
                signal.close();
                throw e;
            }
            try { // a signal's wait covers the encoder export and the summary too
                Result r = finish(model, batches, step, total, best, lastEval, t0, imagesPerSecond, timed);
                if (r.complete()) {
                    signal.completed(r.step(), dir.resolve("encoder"));
                }
                return r;
            } finally {
                signal.close();
            }
        }

        private Result finish(EncoderModel model, PairBatches batches, long step, long total, double best,
                              Map<String, Double> lastEval, long t0, double imagesPerSecond, long timed) {
            if (batches.failedSamples() > 0) {
                LOG.warn("{} pairs failed to load and were skipped", batches.failedSamples());
            }
            boolean complete = step >= total;
            if (complete) {
                model.exportEncoder(dir.resolve("encoder"));
            }
            ObjectNode summary = RunConfig.JSON.createObjectNode();
            summary.put("objective", model.config().objective().json());
            summary.put("steps", step);
            summary.put("complete", complete);
            Pretrainer.putFinite(summary, "bestValLoss", best);
            lastEval.forEach((k, v) -> summary.put(k.equals("valLoss") ? "finalValLoss" : k, v));
            summary.put("wallSeconds", (System.nanoTime() - t0) / 1e9);
            Pretrainer.putFinite(summary, "imagesPerSecond", timed == 0 ? Double.NaN : imagesPerSecond / timed);
            summary.put("failedSamples", batches.failedSamples());
            summary.put("encoderParams", io.mm1j.nn.ShapeInit.numel(
                    io.mm1j.vision.VisionTransformer.expectedShapes(model.config().vision())));
            summary.put("params", model.params().numel());
            if (complete) {
                summary.put("encoder", dir.resolve("encoder").toString());
            }
            AtomicFiles.writeString(dir.resolve("summary.json"), summary.toPrettyString());
            return new Result(dir, step, complete, summary);
        }

        /** Forward, loss and backward of one batch; returns the loss. */
        private double forwardBackward(EncoderModel model, PairBatches.Batch b) {
            NDManager m = model.params().manager();
            try (NDScope scope = new NDScope()) {
                int s = model.config().vision().imageSize();
                NDArray px = m.create(b.pixels(), new Shape(b.size(), 3, s, s));
                double loss;
                try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    NDArray l = model.config().objective() == EncoderModel.Objective.CLIP
                            ? model.contrastive(px, b.ids(m), b.eos(m)).loss() : model.aimLoss(px, b.prefix());
                    gc.backward(l);
                    loss = l.toType(DataType.FLOAT64, false).getDouble();
                }
                scope.suppressNotUsedWarning();
                return loss;
            }
        }

        private String describe(EncoderModel model) {
            long enc = io.mm1j.nn.ShapeInit.numel(io.mm1j.vision.VisionTransformer.expectedShapes(
                    model.config().vision()));
            return String.format(java.util.Locale.ROOT, "%s: %s encoder pre-training, encoder %.2fM params "
                            + "(%.2fM in all), peak LR %.3g, batch %d", dir.getFileName(),
                    model.config().objective().json(), enc / 1e6, model.params().numel() / 1e6, rc.data("optim.lr"),
                    rc.integer("train.batch_size"));
        }
    }
}
