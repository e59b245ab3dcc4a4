package io.mm1j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.bench.GemmBench;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.data.Batch;
import io.mm1j.data.DataPipeline;
import io.mm1j.data.MixtureSampler;
import io.mm1j.data.SampleEncoder;
import io.mm1j.data.SequencePacker;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.OutputDir;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.ImagePreprocessor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code mm1 pretrain}: MM1 pre-training (MM1 §2, MM1_SPEC.md §2) of a run folder, DESIGN.md "Run folders":
 * {@code run.json}, {@code tokenizer.json}, {@code data/} (the synthetic world, when used), {@code checkpoints/step-N/},
 * {@code metrics.jsonl}, {@code plots/*.png}, {@code summary.json} and the final {@code model/}.
 *
 * <p>A run resumes exactly: the checkpoint holds the model, AdamW moments, optimizer step and data cursor, so a run
 * stopped at step N and resumed logs the same losses for steps N+1… as a run that never stopped.
 */
public final class Pretrainer {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Pretrainer.class);

    /** Keys a resume must not change (the model, its data and the stream of batches). */
    static final List<String> FIXED_ON_RESUME = List.of("model", "tokenizer", "data", "train.seed", "train.batch_size",
            "train.grad_accum", "lora", "optim.name", "sft");

    /** What the CLI passes. */
    public record Options(Path out, RunConfig config, boolean resume, boolean overwrite, Path init, long stopAtStep) {}

    /** What a finished (or stopped) run reports. */
    public record Result(Path runDir, long step, boolean complete, ObjectNode summary) {}

    /** What the CLI shows while training. */
    public interface Progress {
        /** For harnesses that print their own line per run (lr-sweep, ablate): the description at debug level. */
        Progress QUIET = new Progress() {
            @Override
            public void start(long fromStep, long totalSteps, String description) {
                LOG.debug("{}", description);
            }

            @Override
            public void step(long step, Map<String, Double> metrics) {
                // the run's metrics.jsonl has every step
            }

            @Override
            public void eval(long step, Map<String, Double> metrics) {
                // and every evaluation
            }

            @Override
            public void finish() {
                // nothing to close
            }
        };

        void start(long fromStep, long totalSteps, String description);

        void step(long step, Map<String, Double> metrics);

        void eval(long step, Map<String, Double> metrics);

        void finish();
    }

    private Pretrainer() {}

    /** Everything {@code --dry-run} prints: the resolved model, counts, memory, LR and tokens per step. */
    public static ObjectNode plan(RunConfig rc, int vocab, Path init) {
        rc.checkSourceNames();
        Mm1Config c = init != null ? Mm1Model.readConfig(initFolder(init))
                : RunModels.build(rc, RunData.tokenizerVocab(rc, vocab), "dry-run");
        ObjectNode o = RunConfig.JSON.createObjectNode();
        o.set("config", rc.tree());
        if (init != null) {
            o.put("init", initFolder(init).toString()); // the model (shapes, MoE) comes from there, as in the run
        }
        o.setAll(resolved(rc, c));
        JsonNode tok = rc.node("tokenizer");
        if (init == null && PretrainedParts.llmFolder(rc) == null && tok.isObject()) {
            // a BPE trained on the data stops early when the data has fewer merges to give: the counts above are
            // for the largest vocabulary it may reach
            o.put("vocabNote", "the tokenizer is trained on the data at the run's start: at most "
                    + c.llm().vocabSize() + " entries (fewer when the data offers fewer merges); the counts assume "
                    + c.llm().vocabSize());
        }
        return o;
    }

    /**
     * {@link LrSchedule#allWarmupWarning} on stderr, once as a run (new or resumed) builds its schedule: after the
     * data and model are ready, so that a start-up error stays the only line.
     */
    static void warnIfAllWarmup(RunConfig rc) {
        String w = LrSchedule.allWarmupWarning(rc);
        if (w != null) {
            LOG.warn(w);
        }
    }

    /** The model folder of {@code --init}: a model folder, or a run folder's {@code model/}. */
    static Path initFolder(Path init) {
        return Files.isDirectory(init.resolve("model")) ? init.resolve("model") : init;
    }

    /**
     * What a run of {@code rc} with model {@code c} resolves to (saved as run.json's {@code _run.resolved}): the
     * model, parameter counts, memory, peak LR (from the law when optim.lr is null), warm-up, tokens per step.
     */
    static ObjectNode resolved(RunConfig rc, Mm1Config c) {
        Map<String, Long> counts = ParamCount.all(c);
        ObjectNode o = RunConfig.JSON.createObjectNode();
        o.set("model", io.mm1j.config.Presets.JSON.valueToTree(c));
        ObjectNode p = o.putObject("params");
        counts.forEach(p::put);
        long nonEmb = ParamCount.llm(c.llm()).nonEmbedding();
        double lr = rc.node("optim.lr").isNull() ? LrLaw.MM1.peakLr(nonEmb) : rc.data("optim.lr");
        o.put("lr.peak", lr);
        o.put("lr.fromLaw", rc.node("optim.lr").isNull());
        o.put("weightDecay", rc.data("optim.weight_decay"));
        long total = counts.get("total");
        o.put("memory.weightsAndAdamWBytes", total * 4L * 4); // weights, gradients, two moments in F32
        // the language model's activations for one micro-batch (MemoryModel, as bench train-step predicts them;
        // the vision tower's, for multimodal models, come on top)
        io.mm1j.config.MemoryModel.Estimate est = io.mm1j.config.MemoryModel.training(c.llm(), total,
                rc.integer("train.batch_size"), rc.integer("data.seq_len"), 4,
                rc.flag("train.activation_checkpointing"));
        o.put("memory.llmActivationBytes", est.activations());
        o.put("memory.peakEstimateBytes", est.peak());
        o.put("tokensPerStep", (long) rc.integer("train.batch_size") * rc.integer("train.grad_accum")
                * rc.integer("data.seq_len"));
        o.put("steps", rc.integer("train.steps"));
        o.put("warmupSteps", LrSchedule.warmupSteps(rc));
        return o;
    }

    public static Result run(Options o, Progress progress) {
        return inRunFolder(o.out(), dir -> new Run(o, dir, progress).go());
    }

    /**
     * {@code body} on the absolute run folder of {@code --out out}, with the folder's lock file held for the whole
     * run: two trainers never share one folder (the OS releases the lock if the process dies). When another
     * process holds it: an error naming the folder and that process.
     */
    static <R> R inRunFolder(Path out, java.util.function.Function<Path, R> body) {
        Path runDir = out.toAbsolutePath().normalize();
        Path real = runDir;
        try {
            real = Files.exists(runDir) ? runDir.toRealPath() : runDir; // one lock whatever link names the folder
        } catch (IOException e) {
            // keep the spelled path
        }
        Path lockFile = real.resolveSibling("." + real.getFileName() + ".lock");
        mkdirs(runDir.getParent());
        try (io.mm1j.io.FolderLock lock = io.mm1j.io.FolderLock.tryAcquire(lockFile)) {
            if (lock == null) {
                String who = io.mm1j.io.FolderLock.holder(lockFile);
                throw new Mm1Exception("--out " + out + ": another mm1 process" + (who.isEmpty() ? "" : " ("
                        + who + ")") + " is training in this folder");
            }
            return body.apply(runDir);
        }
    }

    /** One run, top to bottom. */
    private static final class Run {
        private final Options o;
        private final Path dir;
        private final Progress progress;
        private RunConfig rc;
        /** Called when the first step is logged (a new run's --overwrite then deletes the old files). */
        private Runnable started = () -> { };
        /** The data sources' fingerprints for run.json, computed once. */
        private ObjectNode fingerprints;
        /** What this resume changes in the checkpoint's config (none for a new run). */
        private List<ResumeChanges.Change> resumeChanges = List.of();
        /** Samples the training packer skipped because truncation left them no target (for summary.json). */
        private long samplesWithoutTargets;

        Run(Options o, Path dir, Progress progress) {
            this.o = o;
            this.dir = dir;
            this.progress = progress;
            this.rc = o.config();
        }

        Result go() {
            // 0. devices: data-parallel replicas and mixed precision are checked before anything is written
            List<ai.djl.Device> devices = devices(rc);
            MixedPrecision.check(rc.text("train.mixed_precision"),
                    devices.isEmpty() ? Engines.defaultDevice() : devices.get(0));
            ai.djl.Device device = devices.isEmpty() ? null : devices.get(0);
            // 1. the run folder: a new run, or the newest checkpoint of an old one
            if (o.resume()) {
                if (o.init() != null) {
                    throw new Mm1Exception("--init starts a new run from a model and --resume goes on with the run in "
                            + "--out: give one or the other");
                }
                recoverOverwritten(dir);
                Path ckpt = Checkpoint.forResume(dir);
                Checkpoint.State state = Checkpoint.readState(ckpt);
                checkUnchanged(state.config(), ckpt);
                checkDataUnchanged(dir, rc, ckpt);
                refuseFinished(dir, ckpt, state.step(), rc.integer("train.steps"), "model");
                // the checkpoint's config with today's defaults filled in, as checkUnchanged compares it
                JsonNode before = RunConfig.ofResolved(state.config(), ckpt.resolve("state.json").toString()).tree();
                RunConfig asked = rc;
                rc = ResumeChanges.pinDerivedWarmup(before, rc, ckpt.resolve("state.json").toString());
                resumeChanges = ResumeChanges.between(before, rc.tree());
                ResumeChanges.log(resumeChanges, state.step(), rc != asked);
                checkStopAt(o.stopAtStep(), rc.integer("train.steps"), state.step());
                return train(device, state, ckpt);
            }
            checkStopAt(o.stopAtStep(), rc.integer("train.steps"), 0);
            rc.checkSourceNames();
            OutputDir.refuseOverInput(dir, "--out", o.init(), "--init");
            if (o.init() != null) { // rows longer than the model's positions would fail at the first long sequence
                int maxPos = io.mm1j.mllm.Mm1Model.readConfig(initFolder(o.init())).llm().maxPositions();
                if (rc.integer("data.seq_len") > maxPos) {
                    throw new Mm1Exception("data.seq_len " + rc.integer("data.seq_len") + " is longer than the --init "
                            + "model's " + maxPos + " positions (maxPositions): set --set data.seq_len=" + maxPos
                            + " or less");
                }
            }
            PretrainedParts.checkSettings(rc);
            if (o.init() == null) { // the model settings are checked before any data is synthesized or read
                RunModels.build(rc, RunData.tokenizerVocab(rc,
                        io.mm1j.config.Presets.load(rc.text("model.preset")).llm().vocabSize()), "check");
            }
            if (o.init() != null && (PretrainedParts.llmFolder(rc) != null
                    || PretrainedParts.visionFolder(rc) != null)) {
                throw new Mm1Exception("--init " + o.init() + " starts from a whole model; model.llm.init and "
                        + "model.vision.init start from parts: give one or the other");
            }
            return newRun(dir, o.overwrite(), started -> {
                this.started = started;
                AtomicFiles.writeString(dir.resolve("run.json"), runJson().toPrettyString());
                return train(device, null, null);
            });
        }

        private Result train(ai.djl.Device device, Checkpoint.State state, Path ckpt) {
            try (NDManager root = Engines.newRootManager(rc.integer("train.seed"), device)) {
                return train(root, state, ckpt);
            }
        }

        private Result train(NDManager root, Checkpoint.State state, Path ckpt) {
            // 2. data and tokenizer
            Mm1Config preset = io.mm1j.config.Presets.load(rc.text("model.preset"));
            Path visionInit = PretrainedParts.visionFolder(rc);
            int imageSize = visionInit != null ? PretrainedParts.visionConfig(visionInit).imageSize()
                    : rc.node("model.vision").path("imageSize").asInt(
                    preset.vision() != null ? preset.vision().imageSize() : 32);
            List<RunData.Source> sources = RunData.sources(rc, dir, imageSize);
            Path tokFile = dir.resolve("tokenizer.json");
            Path llmInit = PretrainedParts.llmFolder(rc);
            if (!Files.isRegularFile(tokFile)) {
                if (llmInit != null) {
                    PretrainedParts.writeTokenizer(llmInit, tokFile);
                } else if (o.init() != null && Files.isRegularFile(initFolder(o.init()).resolve("tokenizer.json"))) {
                    initTokenizer(initFolder(o.init()).resolve("tokenizer.json"), tokFile);
                } else {
                    RunData.writeTokenizer(rc, sources, preset.llm().vocabSize(), tokFile);
                }
            }
            try (Tokenizer tok = Tokenizer.load(tokFile)) {
                // 3. model: fresh, from --init, or from the checkpoint
                Mm1Config cfg = RunModels.build(rc, tok.vocabSize(), dir.getFileName().toString());
                Mm1Model loaded = ckpt != null ? Checkpoint.loadModel(ckpt, root)
                        : o.init() != null ? initFrom(o.init(), tok.vocabSize(), root)
                        : fresh(cfg, root, llmInit, visionInit);
                Mm1Model model = FineTuning.highRes(rc, loaded); // model.high_res: tiling on/off, positions resized
                try {
                    FineTuning.lora(rc, model, ckpt); // frozen base + fresh (or checkpointed) adapters when lora.rank > 0
                } catch (RuntimeException e) {
                    model.close();
                    throw e;
                }
                if (state == null) {
                    saveResolved(model.config());
                } else { // a resume that changed allowed keys: run.json says what the run goes on with
                    checkSameModel(model, ckpt);
                    ResumeChanges.record(dir.resolve("run.json"), rc, state.step(), resumeChanges,
                            resolved(rc, model.config()));
                }
                try (model; Optimizer opt = optimizer(model)) {
                    if (state != null) {
                        Checkpoint.loadOptimizer(ckpt, opt, state.optimizerStep());
                    }
                    return loop(root, model, opt, tok, sources, state);
                }
            }
        }

        /**
         * A data-parallel replica or mixed-precision working copy of {@code master} in {@code root}, in {@code dtype}:
         * the same config, a LoRA adapter when the master
         * has one, the same frozen components, gradients on ({@link DataParallel} copies the master's weights in).
         */
        private Mm1Model replica(Mm1Model master, NDManager root, DataType dtype) {
            if (io.mm1j.llava.Llava.images(master) != null) {
                // a replica is built from the mm1j config, which cannot say a LLaVA model's image path
                throw new Mm1Exception("train.devices / train.mixed_precision: model '" + master.config().name()
                        + "' was loaded from a LLaVA folder; it trains on one device in its own precision only");
            }
            Mm1Model m = Mm1Model.init(master.config(), root, dtype);
            try {
                if (master.params().adapter() != null) {
                    FineTuning.lora(rc, m, null);
                }
                FineTuning.freeze(rc, m);
                m.params().enableGradients();
                return m;
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        /** Random weights, with the LLM and the encoder from their pretrained folders when given. */
        private Mm1Model fresh(Mm1Config cfg, NDManager root, Path llmInit, Path visionInit) {
            Mm1Model m = Mm1Model.init(cfg, root, DataType.FLOAT32);
            try {
                if (llmInit != null) {
                    PretrainedParts.loadLlm(m, llmInit);
                }
                if (visionInit != null) {
                    PretrainedParts.loadVision(m, visionInit);
                }
                return m;
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        /**
         * The synthetic world whose held-out items the k-shot evaluation uses: the run's own ({@code RUN/data}) or
         * one the sources come from ({@code --data DIR}); null, with a warning when {@code train.fewshot_interval}
         * asks for scores, when there is none (other datasets have no held-out k-shot split here).
         */
        private Path fewshotWorld(boolean multimodal) {
            if (rc.integer("train.fewshot_interval") <= 0 || !multimodal) {
                return null;
            }
            List<Path> candidates = new ArrayList<>(List.of(RunData.syntheticDir(rc, dir)));
            for (JsonNode s : rc.node("data.sources")) {
                if (!s.hasNonNull("path")) {
                    continue;
                }
                Path p = Path.of(s.get("path").asText()).toAbsolutePath().normalize();
                for (int up = 0; up < 3 && p.getParent() != null; up++) { // DIR/coco/captions_train.json → DIR
                    p = p.getParent();
                    candidates.add(p);
                }
            }
            for (Path c : candidates) {
                if (Files.isRegularFile(c.resolve("manifest.json")) && Files.isDirectory(c.resolve("images"))) {
                    return c;
                }
            }
            LOG.warn("train.fewshot_interval is set but the data has no synthetic world (a folder written by 'mm1 "
                    + "data synth', whose held-out items the k-shot evaluation scores): no k-shot scores will be "
                    + "logged");
            return null;
        }

        /**
         * An {@code --init} model's embeddings belong to its own tokenizer: the run takes it (same vocabulary size
         * is not enough: another tokenizer of that size maps the ids to other strings). A tokenizer the config
         * names explicitly must be that one.
         */
        private void initTokenizer(Path modelTokenizer, Path tokFile) {
            JsonNode tok = rc.node("tokenizer");
            if (tok.isObject() && !tok.path("train").path("vocab_size").isNull()) {
                LOG.warn("--init {}: tokenizer.train.vocab_size is not used: the run takes the model's own tokenizer "
                        + "({})", o.init(), modelTokenizer);
            }
            if (!tok.isObject()) { // "bytes" or a path: the user's choice, which must agree with the model
                Path tmp = dir.resolve("tokenizer.json.asked");
                try {
                    RunData.writeTokenizer(rc, List.of(), 0, tmp);
                    if (!java.util.Arrays.equals(Files.readAllBytes(tmp), Files.readAllBytes(modelTokenizer))) {
                        throw new Mm1Exception("--init " + o.init() + ": tokenizer " + tok.asText() + " is not the "
                                + "model's own (" + modelTokenizer + "); its embeddings belong to that one: drop "
                                + "the tokenizer setting to use it");
                    }
                } catch (IOException e) {
                    throw new Mm1Exception("tokenizer: cannot compare with " + modelTokenizer + ": " + e.getMessage(),
                            e);
                } finally {
                    try {
                        Files.deleteIfExists(tmp);
                    } catch (IOException ignored) {
                        // a leftover temporary file is harmless
                    }
                }
            }
            try {
                Files.copy(modelTokenizer, tokFile);
            } catch (IOException e) {
                throw new Mm1Exception("tokenizer: cannot copy " + modelTokenizer + ": " + e.getMessage(), e);
            }
            // checked before the weights load, naming the model's file rather than the run's copy (a failed run's
            // folder is removed)
            io.mm1j.config.LlmConfig llm = io.mm1j.mllm.Mm1Model.readConfig(initFolder(o.init())).llm();
            try (Tokenizer t = Tokenizer.load(modelTokenizer)) {
                checkEmbeddingHolds(t.vocabSize(), modelTokenizer.toString(), llm.vocabSize());
                SpecialTokens.Ids.forChatTemplate(t, llm.bosTokenId(), llm.eosTokenId());
            }
        }

        /** Refuses a tokenizer ({@code what}) with ids past the {@code --init} model's embedding rows. */
        private void checkEmbeddingHolds(int tokenizerVocab, String what, int rows) {
            if (tokenizerVocab > rows) {
                throw new Mm1Exception("--init " + o.init() + ": " + what + " has " + tokenizerVocab + " token ids, "
                        + "more than the model's " + rows + " embedding rows (vocab_size in "
                        + initFolder(o.init()).resolve("config.json") + ")");
            }
        }

        /**
         * The {@code --init} model, whose embedding must hold every id of the run's tokenizer. With the folder's own
         * tokenizer it may hold more: a Hugging Face LLaVA folder pads its vocabulary (llava-1.5: 32 002 tokens,
         * 32 064 rows, a multiple of 64), and the rows past the tokenizer are kept, as the LLaVA loader and exporter
         * keep them, so the fine-tuned model exports back to a folder of the same shape. No text encodes to those
         * ids, so they are never an input or a target; they only sit in the softmax's denominator, whose gradient
         * lowers their logits. A tokenizer from elsewhere (the folder has none) must match the rows exactly.
         */
        private Mm1Model initFrom(Path init, int tokenizerVocab, NDManager root) {
            Path modelDir = initFolder(init);
            Mm1Model m = Checkpoint.loadModel(modelDir, root); // refused when a weight is not finite
            int rows = m.config().llm().vocabSize();
            Path own = modelDir.resolve("tokenizer.json");
            try {
                checkEmbeddingHolds(tokenizerVocab, Files.isRegularFile(own) ? own.toString()
                        : "the run's tokenizer (" + rc.shown("tokenizer") + ")", rows);
            } catch (Mm1Exception e) {
                m.close();
                throw e;
            }
            if (tokenizerVocab != rows && !Files.isRegularFile(own)) {
                m.close();
                throw new Mm1Exception("--init " + init + ": the model's vocabulary (" + rows + ") differs from the "
                        + "run tokenizer's (" + tokenizerVocab + "); the model folder has no tokenizer.json: pass "
                        + "the tokenizer it was trained with as --set tokenizer=FILE");
            }
            return m;
        }

        private Optimizer optimizer(Mm1Model model) {
            FineTuning.freeze(rc, model);
            model.params().enableGradients();
            boolean trainable = model.params().all().keySet().stream().anyMatch(model.params()::isTrainable);
            if (!trainable) {
                throw new Mm1Exception("train.freeze " + rc.node("train.freeze") + " freezes every weight of the model"
                        + (model.params().adapter() != null ? " and every LoRA adapter (an adapter is frozen with "
                        + "its component)" : "") + ": nothing would train");
            }
            Optimizer opt = FineTuning.optimizer(rc, model.params());
            FineTuning.lrMultipliers(rc, opt);
            return opt;
        }

        private Result loop(NDManager root, Mm1Model model, Optimizer opt, Tokenizer tok, List<RunData.Source> sources,
                            Checkpoint.State state) {
            Mm1Config cfg = model.config();
            int k = Math.max(1, model.imageTokens());
            int maxImages = Math.max(1, Math.min(rc.integer("data.max_images"),
                    cfg.maxImagesPerSequence() > 0 ? cfg.maxImagesPerSequence() : Integer.MAX_VALUE));
            SequencePacker.Config pc = new SequencePacker.Config(rc.integer("train.batch_size"),
                    rc.integer("data.seq_len"), maxImages, k);
            // training packs a whole optimizer step (grad_accum · batch_size rows) at once; TrainLoop cuts it up
            SequencePacker.Config stepPc = new SequencePacker.Config(pc.batchSize() * rc.integer("train.grad_accum"),
                    pc.seqLen(), pc.maxImages(), pc.imageTokens());
            int size = cfg.isMultimodal() ? cfg.vision().imageSize() : 0;
            // conversations go through a chat template (below): the chat markers need not be tokens
            SpecialTokens.Ids ids = SpecialTokens.Ids.forChatTemplate(tok, cfg.llm().bosTokenId(),
                    cfg.llm().eosTokenId());
            SampleEncoder encoder = new SampleEncoder(tok::encode, cfg.isMultimodal() ? pixels(model) : img -> {
                throw new Mm1Exception("a text-only model cannot train on images (set model.vision or use text "
                        + "sources only)");
            }, ids).withConversations(new io.mm1j.mllm.ChatTemplateEncoder(FineTuning.template(rc, o.init(), tok), tok))
                    .withTokenizer(io.mm1j.eval.EvalReport.sha256(tok.file())) // mm1 data shard's token ids
                    .withCaptionPerVisit("per_visit".equals(rc.text("data.caption_choice")));
            if (state == null) { // conversations that keep no assistant token at data.seq_len: counted, or refused
                TruncationCheck.conversations(rc, sources, encoder, new SequencePacker(pc, ids),
                        cfg.llm().maxPositions());
            }
            List<String> names = sources.stream().map(RunData.Source::name).toList();
            long seed = rc.integer("train.seed");
            List<MixtureSampler.Source> train = new ArrayList<>();
            for (RunData.Source s : sources) {
                train.add(new MixtureSampler.Source(s.name(), s.weight(), s.train()));
            }
            MixtureSampler sampler = state == null ? new MixtureSampler(train, seed)
                    : MixtureSampler.resume(train, seed, state.cursor());
            Map<String, List<Batch>> val = validation(sources, encoder, pc, ids, seed);
            Path fewshotWorld = fewshotWorld(cfg.isMultimodal());
            long nonEmb = ParamCount.llm(cfg.llm()).nonEmbedding();
            double peak = rc.node("optim.lr").isNull() ? LrLaw.MM1.peakLr(nonEmb) : rc.data("optim.lr");
            long total = rc.integer("train.steps");
            LrSchedule schedule = new LrSchedule(peak, LrSchedule.warmupSteps(rc), (int) total,
                    rc.data("optim.min_lr_ratio"));
            warnIfAllWarmup(rc);
            double gemm = GemmBench.gflops(root, 2048, 3); // the roofline bench train-step divides by
            TrainLoop.Settings settings = new TrainLoop.Settings(total, o.stopAtStep(), rc.integer("train.grad_accum"),
                    rc.data("optim.clip_grad_norm"), rc.data("optim.weight_decay"),
                    rc.flag("data.mask_between_documents"), rc.integer("train.eval_interval"),
                    rc.integer("train.checkpoint_interval"), names, flopsPerToken(cfg, pc.seqLen()), gemm,
                    rc.flag("train.activation_checkpointing"), ids.image());
            long start = state == null ? 0 : state.step();
            double[] best = {state == null ? Double.NaN : state.bestValLoss()};
            double[] lastVal = {Double.NaN};
            long t0 = System.nanoTime();
            double[] tokensPerSecond = {0};
            long[] timedSteps = {0};
            SignalStop signal = new SignalStop("pretrain", dir.resolve("checkpoints"));
            long step;
            long failedSamples;
            SequencePacker packer = new SequencePacker(stepPc, ids);
            try (MetricsLog metrics = new MetricsLog(dir.resolve("metrics.jsonl"), start);
                 DataPipeline data = new DataPipeline(sampler, encoder, packer, rc.integer("data.workers"), 4,
                         true)) {
                progress.start(start, Math.min(total, o.stopAtStep() > 0 ? o.stopAtStep() : total),
                        describe(cfg, peak) + "; " + FineTuning.describe(model, opt));
                TrainLoop.Listener listener = new TrainLoop.Listener() {
                    @Override
                    public void onStep(long s, Map<String, Double> m) {
                        m.put("rssBytes", (double) io.mm1j.bench.PeakRss.currentBytes());
                        if (s > start + 1) { // the first step of a process includes warm-up
                            tokensPerSecond[0] += m.get("tokensPerSecond");
                            timedSteps[0]++;
                        }
                        metrics.log(s, m);
                        started.run(); // a step is logged: an --overwrite's old files can go
                        progress.step(s, m);
                        int ei = rc.integer("train.eval_interval");
                        boolean evalStep = ei > 0 && (s % ei == 0 || s == total);
                        if (!evalStep) { // a quick evaluation between validations gets a line of its own
                            Map<String, Double> q = quickEval(s);
                            if (!q.isEmpty()) {
                                metrics.log(s, q);
                                progress.eval(s, q);
                                plots(metrics);
                            }
                        }
                    }

                    /**
                     * k-shot caption CIDEr-D and VQA on the synthetic world's held-out items for each of
                     * {@code train.fewshot_shots} every {@code train.fewshot_interval} steps and at the last step
                     * (empty otherwise, and for text-only models or runs without the synthetic world).
                     */
                    private Map<String, Double> quickEval(long s) {
                        int fs = rc.integer("train.fewshot_interval");
                        Path synth = fewshotWorld;
                        Map<String, Double> q = new LinkedHashMap<>();
                        if (fs > 0 && (s % fs == 0 || s == total) && model.isMultimodal() && synth != null) {
                            for (int shots : rc.fewshotShots()) {
                                q.putAll(QuickEval.evaluate(model, tok, synth, shots,
                                        rc.integer("train.fewshot_items"), seed).metrics());
                            }
                        }
                        return q;
                    }

                    @Override
                    public void onEval(long s, Map<String, Double> m) {
                        m.putAll(quickEval(s));
                        lastVal[0] = m.get("valLoss");
                        if (Double.isNaN(best[0]) || lastVal[0] < best[0]) {
                            best[0] = lastVal[0];
                        }
                        metrics.log(s, m);
                        progress.eval(s, m);
                        plots(metrics);
                    }

                    @Override
                    public void onCheckpoint(long s, Batch last) {
                        Checkpoint.write(dir.resolve("checkpoints"), model, opt, new Checkpoint.State(s,
                                opt.stepCount(), last.cursor(), best[0], rc.tree()), rc.integer("train.keep_checkpoints"),
                                tok.file());
                        signal.checkpointed(s);
                    }
                };
                List<ai.djl.Device> devices = devices(rc);
                String mixed = rc.text("train.mixed_precision");
                DataType compute = MixedPrecision.computeType(mixed);
                List<ai.djl.Device> others = devices.size() > 1 ? devices.subList(1, devices.size()) : List.of();
                try (DataParallel dp = !others.isEmpty() || compute != null ? new DataParallel(model, others,
                        r -> replica(model, r, compute == null ? model.params().dtype() : compute), compute) : null) {
                    TrainLoop loop = new TrainLoop(model, opt, schedule, settings, val, listener).dataParallel(dp)
                            .lossScale(mixed.equals("fp16") ? new MixedPrecision.LossScale() : null).rngSeed(seed);
                    try {
                        step = loop.run(data, start, signal::requested);
                    } catch (TrainLoop.Diverged e) {
                        // recorded, so that harnesses (lr-sweep) count the run as finished: diverged, no loss
                        ObjectNode d = RunConfig.JSON.createObjectNode();
                        d.put("steps", e.step());
                        d.put("complete", false);
                        d.put("diverged", true);
                        d.putNull("finalValLoss");
                        d.putNull("bestValLoss");
                        d.put("peakLr", peak);
                        d.put("wallSeconds", (System.nanoTime() - t0) / 1e9);
                        AtomicFiles.writeString(dir.resolve("summary.json"), d.toPrettyString());
                        throw e;
                    }
                }
                failedSamples = data.failedSamples();
                if (data.failedSamples() > 0) {
                    LOG.warn("{} samples failed to load and were skipped", data.failedSamples());
                }
                samplesWithoutTargets = packer.withoutTargets();
                if (samplesWithoutTargets > 0) {
                    LOG.warn("{} samples kept no supervised token at data.seq_len={} and were skipped",
                            samplesWithoutTargets, pc.seqLen());
                }
                progress.finish();
                plots(metrics);
            } catch (RuntimeException | Error e) {
                signal.close();
                throw e;
            }
            try { // a signal's wait covers the summary and the model folder too
                Result r = finish(model, opt, tok, cfg, step, total, lastVal[0], best[0], t0, tokensPerSecond[0],
                        timedSteps[0], peak, failedSamples);
                if (r.complete()) {
                    signal.completed(r.step(), dir.resolve("model"));
                }
                return r;
            } finally {
                signal.close();
            }
        }

        private Result finish(Mm1Model model, Optimizer opt, Tokenizer tok, Mm1Config cfg, long step, long total,
                              double lastVal, double best, long t0, double tokensPerSecond, long timedSteps,
                              double peak, long failedSamples) {
            boolean complete = step >= total;
            ObjectNode summary = RunConfig.JSON.createObjectNode();
            summary.put("steps", step);
            summary.put("complete", complete);
            putFinite(summary, "finalValLoss", lastVal); // null: no evaluation ran
            putFinite(summary, "bestValLoss", best);
            summary.put("wallSeconds", (System.nanoTime() - t0) / 1e9);
            putFinite(summary, "tokensPerSecond", timedSteps == 0 ? Double.NaN : tokensPerSecond / timedSteps);
            summary.put("peakLr", peak);
            summary.put("failedSamples", failedSamples); // this process's share: data items skipped, not fatal
            // cut to seq_len with no target left, as packed by this process (batches prefetched but not trained
            // included): a count to act on, not an exact figure
            summary.put("samplesWithoutTargets", samplesWithoutTargets);
            summary.put("params", ParamCount.all(cfg).get("total"));
            FineTuning.summary(summary, model, opt, rc);
            AtomicFiles.writeString(dir.resolve("summary.json"), summary.toPrettyString());
            if (complete) {
                if (model.params().adapter() instanceof Lora lora) { // runs/NAME/adapter/ (PEFT), then merged model/
                    FineTuning.writeAdapter(dir.resolve("adapter"), lora, o.init());
                    lora.merge();
                }
                writeModel(model, tok);
            }
            return new Result(dir, step, complete, summary);
        }

        /** The final model as an ordinary model folder that generate, eval and info accept. */
        private void writeModel(Mm1Model model, Tokenizer tok) {
            try (OutputDir out = OutputDir.create(dir.resolve("model"), true, "model")) {
                model.save(out.staging());
                Files.copy(tok.file(), out.staging().resolve("tokenizer.json"));
                FineTuning.copyChatTemplate(rc, o.init(), out.staging()); // an SFT model keeps its chat layout
                out.commit();
            } catch (IOException e) {
                throw new Mm1Exception(dir.resolve("model") + ": cannot write: " + e.getMessage(), e);
            }
        }

        private Map<String, List<Batch>> validation(List<RunData.Source> sources, SampleEncoder enc,
                                                    SequencePacker.Config pc, SpecialTokens.Ids ids, long seed) {
            Map<String, List<Batch>> out = new LinkedHashMap<>();
            int n = rc.integer("train.eval_batches");
            if (rc.integer("train.eval_interval") == 0) {
                return out;
            }
            for (RunData.Source s : sources) {
                if (s.weight() <= 0) {
                    continue;
                }
                java.util.Iterator<io.mm1j.data.Sample> probe = s.val().get();
                boolean empty = !probe.hasNext();
                if (probe instanceof AutoCloseable c) {
                    try {
                        c.close();
                    } catch (Exception ignored) {
                        // read-only
                    }
                }
                if (empty) {
                    throw new Mm1Exception("data: the validation split of source '" + s.name() + "' is empty (data."
                            + "val_fraction " + rc.data("data.val_fraction") + " of a small dataset): raise "
                            + "data.val_fraction, or set train.eval_interval=0");
                }
                List<Batch> batches = new ArrayList<>();
                // one pass over the first samples of the validation split, packed like training data
                MixtureSampler one = new MixtureSampler(List.of(new MixtureSampler.Source(s.name(), 1, s.val())),
                        seed);
                try (DataPipeline p = new DataPipeline(one, enc, new SequencePacker(pc, ids), 1, 2, true)) {
                    for (int i = 0; i < n; i++) {
                        batches.add(p.next());
                    }
                }
                out.put(s.name(), batches);
            }
            return out;
        }

        private void plots(MetricsLog metrics) {
            Path plots = dir.resolve("plots");
            Map<String, List<double[]>> loss = new LinkedHashMap<>();
            loss.put("train", metrics.series("loss"));
            loss.put("validation", metrics.series("valLoss"));
            Plots.lines(plots.resolve("loss.png"), "loss", "cross-entropy (nats/token)", loss, true);
            Map<String, List<double[]>> perSource = new LinkedHashMap<>();
            Map<String, List<double[]>> blind = new LinkedHashMap<>();
            metrics.allSeries().forEach((k, v) -> {
                if (k.startsWith("loss/")) {
                    perSource.put("train " + k.substring(5), v);
                } else if (k.startsWith("valLoss/")) {
                    perSource.put("validation " + k.substring(8), v);
                    blind.put(k.substring(8) + ", with images", v);
                    List<double[]> b = metrics.series("valLossBlind/" + k.substring(8));
                    if (!b.isEmpty()) {
                        blind.put(k.substring(8) + ", images blanked", b);
                    }
                }
            });
            Plots.lines(plots.resolve("loss-per-source.png"), "loss per source", "cross-entropy (nats/token)",
                    perSource, true);
            if (!metrics.series("valLossBlind").isEmpty()) {
                Plots.lines(plots.resolve("val-vs-blind.png"), "validation loss: with the images vs blanked",
                        "cross-entropy (nats/token)", blind, true);
            }
            Plots.lines(plots.resolve("lr.png"), "learning rate", "LR", Map.of("lr", metrics.series("lr")), false);
            Map<String, List<double[]>> fewshot = new LinkedHashMap<>();
            metrics.allSeries().forEach((k, v) -> {
                if (k.startsWith("eval/cider@")) {
                    fewshot.put("caption CIDEr-D ×100, " + k.substring(11) + "-shot", scaled(v, 100));
                }
            });
            metrics.allSeries().forEach((k, v) -> {
                if (k.startsWith("eval/vqa@")) {
                    fewshot.put("VQA accuracy %, " + k.substring(9) + "-shot", v);
                }
            });
            if (!fewshot.isEmpty()) {
                Plots.lines(plots.resolve("fewshot.png"), "held-out k-shot scores (MM1's few-shot prompts)", "score",
                        fewshot, false);
            }
            if (!metrics.series("moe/balance").isEmpty()) {
                Map<String, List<double[]>> router = new LinkedHashMap<>();
                router.put("balance loss (1 = balanced)", metrics.series("moe/balance"));
                router.put("router z-loss", metrics.series("moe/z"));
                Plots.lines(plots.resolve("moe-losses.png"), "MoE router losses (unweighted, mean over MoE layers)",
                        "loss", router, true);
                Map<String, List<double[]>> load = new LinkedHashMap<>();
                for (int e = 0; !metrics.series("moe/load/" + e).isEmpty(); e++) {
                    load.put("expert " + e, metrics.series("moe/load/" + e));
                }
                Plots.lines(plots.resolve("moe-load.png"), "expert load (share of routed tokens, mean over MoE "
                        + "layers)", "share", load, false);
            }
            Plots.lines(plots.resolve("grad-norm.png"), "gradient norm (before clipping)", "global L2 norm",
                    Map.of("gradNorm", metrics.series("gradNorm")), true);
        }

        private static List<double[]> scaled(List<double[]> series, double f) {
            return series.stream().map(p -> new double[] {p[0], p[1] * f}).toList();
        }

        private String describe(Mm1Config cfg, double peak) {
            return String.format(java.util.Locale.ROOT, "%s: %s params, peak LR %.3g", dir.getFileName(),
                    String.format(java.util.Locale.ROOT, "%.2fM", ParamCount.all(cfg).get("total") / 1e6), peak);
        }

        /**
         * Refuses a checkpoint whose model is not the one the run started with (run.json's {@code _run.resolved.model}):
         * files copied in from another run or preset would otherwise train on under this run's name.
         */
        private void checkSameModel(Mm1Model model, Path ckpt) {
            if (!Files.isRegularFile(dir.resolve("run.json"))) {
                return; // nothing recorded to compare with
            }
            JsonNode started;
            try {
                started = io.mm1j.config.Presets.JSON.readTree(dir.resolve("run.json").toFile()).path("_run")
                        .path("resolved").path("model");
            } catch (IOException e) {
                model.close();
                throw new Mm1Exception(dir.resolve("run.json") + ": not valid JSON: " + e.getMessage(), e);
            }
            if (!started.isObject()) {
                return; // a run from before run.json recorded its model
            }
            JsonNode now = withoutLabels(io.mm1j.config.Presets.JSON.valueToTree(model.config()));
            started = withoutLabels(started);
            String diff = firstDifference(started, now, "");
            if (diff != null) {
                String key = diff.startsWith(".") ? diff.substring(1) : diff;
                JsonNode a = key.isEmpty() ? started : started.at("/" + key.replace('.', '/'));
                JsonNode b = key.isEmpty() ? now : now.at("/" + key.replace('.', '/'));
                model.close();
                throw new Mm1Exception("--resume: " + ckpt.resolve("config.json") + " holds another model than the "
                        + "run started with: '" + key + "' is " + b + ", the run's (run.json) " + a);
            }
        }

        /**
         * The model without its name and description: labels, not weights or shapes. A checkpoint of a model from a
         * LLaVA folder is a LLaVA folder, which has no place for them (its loader names the model after the folder).
         */
        private static JsonNode withoutLabels(JsonNode model) {
            ObjectNode c = ((ObjectNode) model).deepCopy();
            c.remove(List.of("name", "description"));
            return c;
        }

        /** {@code data.workers} (loader threads) does not change what is trained: a resume may set another. */
        private static JsonNode withoutFree(String key, JsonNode n) {
            if (key.equals("data") && n instanceof ObjectNode o && o.has("workers")) {
                ObjectNode c = o.deepCopy();
                c.remove("workers");
                return c;
            }
            return n;
        }

        private void checkUnchanged(JsonNode saved, Path ckpt) {
            RunConfig before = RunConfig.ofResolved(saved, ckpt.resolve("state.json").toString());
            for (String key : FIXED_ON_RESUME) {
                String diff = firstDifference(withoutFree(key, before.node(key)), withoutFree(key, rc.node(key)), key);
                if (diff != null) {
                    throw new Mm1Exception("--resume: '" + diff + "' differs from the checkpoint's run ("
                            + ckpt.getFileName() + "): " + before.node(diff.replaceAll("\\[(\\d+)\\]", ".$1"))
                            + " before, " + rc.node(diff.replaceAll("\\[(\\d+)\\]", ".$1")) + " now");
                }
            }
        }

        /**
         * Adds what the config resolves to ({@link #resolved}: the model built, its counts, the peak LR, warm-up)
         * to run.json as {@code _run.resolved}: the config keys keep what was asked (null = from the preset or law).
         */
        private void saveResolved(Mm1Config c) {
            ObjectNode r = runJson();
            ((ObjectNode) r.get("_run")).set("resolved", resolved(rc, c));
            AtomicFiles.writeString(dir.resolve("run.json"), r.toPrettyString());
        }

        private ObjectNode runJson() {
            ObjectNode r = rc.tree();
            ObjectNode meta = r.putObject("_run");
            meta.put("gitCommit", gitCommit());
            meta.put("djl", Engine.getDjlVersion());
            meta.put("engine", Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion());
            meta.put("java", System.getProperty("java.version"));
            if (fingerprints == null) {
                fingerprints = RunData.fingerprints(rc); // once: large image folders are walked
            }
            meta.set("data", fingerprints); // what a resume checks its data against
            return r;
        }
    }

    /**
     * Refuses a resume whose listed data files changed since the run started ({@link RunData#fingerprints}, saved in
     * run.json's {@code _run.data}; runs written before fingerprints existed are not checked).
     */
    static void checkDataUnchanged(Path dir, RunConfig rc, Path ckpt) {
        Path runJson = dir.resolve("run.json");
        if (!Files.isRegularFile(runJson)) {
            return; // nothing recorded to compare with
        }
        JsonNode saved;
        try {
            saved = io.mm1j.config.Presets.JSON.readTree(runJson.toFile()).path("_run").path("data");
        } catch (IOException e) {
            throw new Mm1Exception(runJson + ": not valid JSON: " + e.getMessage(), e);
        }
        if (!saved.isObject()) {
            return;
        }
        ObjectNode now = RunData.fingerprints(rc);
        java.util.Iterator<String> keys = saved.fieldNames();
        while (keys.hasNext()) {
            String key = keys.next();
            if (now.has(key) && !saved.get(key).equals(now.get(key))) { // absent now: "not found" comes next
                JsonNode s = rc.node("data.sources").path(Integer.parseInt(key.replaceAll("\\D", "")));
                throw new Mm1Exception("--resume: the data of " + key + " (" + s.path("path").asText()
                        + (s.hasNonNull("images") ? ", images " + s.get("images").asText() : "") + ") changed since the "
                        + "run started: its files differ from those " + ckpt.getFileName() + " was trained on; "
                        + "restore them or start a new run");
            }
        }
    }

    /** The first dotted key under which two trees differ ({@code "."} for the roots themselves), or null. */
    public static String firstDifference(JsonNode a, JsonNode b, String prefix) {
        List<ResumeChanges.Change> all = ResumeChanges.between(a, b); // leaves in key order
        if (all.isEmpty()) {
            return null;
        }
        String key = all.get(0).key();
        return key.isEmpty() ? (prefix.isEmpty() ? "." : prefix) : prefix + "." + key;
    }

    /**
     * Refuses a resume of a run already at its last step whose output ({@code model} or {@code encoder}) is
     * written; without it (a failure or kill while it was written) the resume trains no step and writes it.
     */
    static void refuseFinished(Path dir, Path ckpt, long step, long steps, String output) {
        if (step > steps && !Files.isDirectory(dir.resolve(output))) { // it would "finish" past its own schedule
            throw new Mm1Exception("--resume: the run in " + dir + " is at step " + step + " (" + ckpt.getFileName()
                    + "), past train.steps " + steps + ": give --steps " + step + " or more");
        }
        if (step >= steps && Files.isDirectory(dir.resolve(output))) {
            throw new Mm1Exception("--resume: the run in " + dir + " is at step " + step + " (" + ckpt.getFileName()
                    + ") and train.steps is " + steps + "; it has finished (its " + output + " is in "
                    + dir.resolve(output) + "): give a larger --steps to train on");
        }
    }

    /** {@code train.devices}: the data-parallel devices (empty: one device, the process's). */
    static List<ai.djl.Device> devices(RunConfig rc) {
        List<ai.djl.Device> out = new ArrayList<>();
        for (JsonNode d : rc.node("train.devices")) {
            out.add(Engines.checkDevice(Engines.parseDevice(d.asText(), "train.devices")));
        }
        return out;
    }

    /**
     * The model's own preprocessing ({@link Mm1Model#preprocess}: CLIP, plus high-resolution sub-images when the
     * model tiles) as the data workers' image hook: a picture → its c·3·S·S floats.
     */
    static Function<java.awt.image.BufferedImage, float[]> pixels(Mm1Model model) {
        return img -> {
            try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu())) { // data workers preprocess on the CPU
                return model.preprocess(m, List.of(ImageIoLoader.toRgb(img))).toFloatArray();
            }
        };
    }

    /** CLIP preprocessing (PIL-exact bicubic resize, centre crop, mean/std) as the data workers' image hook. */
    static Function<java.awt.image.BufferedImage, float[]> clipPixels(int size) {
        return img -> {
            try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu())) { // data workers preprocess on the CPU
                return new ImagePreprocessor(m, size).preprocess(ImageIoLoader.toRgb(img)).toFloatArray();
            }
        };
    }

    /** Model FLOPs per token (PaLM appendix B): 6·N_matmul + 12·L·T·d_attn, as {@code bench train-step}. */
    static double flopsPerToken(Mm1Config cfg, int seq) {
        ParamCount.Llm pc = ParamCount.llm(cfg.llm());
        long matmul = (pc.active() - pc.embedding()) + (long) cfg.llm().vocabSize() * cfg.llm().hiddenSize();
        return 6.0 * matmul + 12.0 * cfg.llm().numLayers() * seq * cfg.llm().numHeads() * cfg.llm().headDim();
    }

    static Mm1Model.Component component(String name) {
        return switch (name) {
            case "vision" -> Mm1Model.Component.VISION;
            case "connector" -> Mm1Model.Component.CONNECTOR;
            case "llm" -> Mm1Model.Component.LLM;
            case "lm_head" -> Mm1Model.Component.LM_HEAD;
            default -> throw new Mm1Exception("unknown component '" + name + "'");
        };
    }

    /**
     * The mm1j commit this build came from (recorded at build time in {@code io/mm1j/git.properties}), with
     * {@code +dirty} when the working tree had uncommitted changes; "unknown" for a build outside a git clone.
     */
    static String gitCommit() {
        try (java.io.InputStream in = Pretrainer.class.getResourceAsStream("/io/mm1j/git.properties")) {
            if (in == null) {
                return "unknown";
            }
            java.util.Properties p = new java.util.Properties();
            p.load(in);
            String id = p.getProperty("git.commit.id.full", "");
            if (id.isEmpty() || id.startsWith("${")) {
                return "unknown";
            }
            return id + ("true".equals(p.getProperty("git.dirty")) ? "+dirty" : "");
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Where {@code --overwrite} keeps the old run's files, inside the run folder, until the new run has a step. */
    static final String OVERWRITTEN = ".overwritten";
    /** In {@link #OVERWRITTEN}: every old file was moved in (the new run may have written files since). */
    static final String SET_ASIDE_COMPLETE = ".mm1-set-aside-complete";
    /** In {@link #OVERWRITTEN}: the new run has logged a step; the old files are to be deleted. */
    static final String SET_ASIDE_DROP = ".mm1-set-aside-drop";
    /** In {@link #OVERWRITTEN}: the new run's files are deleted; the old ones are being moved back. */
    static final String SET_ASIDE_RESTORING = ".mm1-set-aside-restoring";

    /**
     * {@code body} as a new run in {@code dir}: a non-empty folder is refused without {@code overwrite}; with it,
     * the old run's files are moved into {@code dir/.overwritten/} (renames on the same disk, through a symbolic
     * link too) rather than deleted. {@code body} gets a callback to call once the new run has logged its first
     * step: then the old files are marked for deletion and deleted in the background (waited for at the end). A run
     * that fails before that puts the old files back (and a folder it created is removed); a run killed at any
     * point is finished at the next start ({@link #recoverOverwritten}), which decides by marker files only.
     */
    static <R> R newRun(Path dir, boolean overwrite, java.util.function.Function<Runnable, R> body) {
        recoverOverwritten(dir);
        OutputDir.checkWritable(dir, overwrite, "--out");
        boolean existed = Files.isDirectory(dir);
        Path aside = dir.resolve(OVERWRITTEN);
        boolean setAside = overwrite && !OutputDir.isEmptyOrAbsent(dir);
        if (setAside) {
            try {
                Files.createDirectory(aside); // fails on nothing touched yet
            } catch (IOException e) {
                throw new Mm1Exception("--out " + dir + ": cannot set the old run aside for --overwrite: "
                        + (Files.exists(aside) ? aside + " exists (files an earlier --overwrite could not delete: "
                        + "delete it by hand)" : e.getMessage()), e);
            }
            try { // from here on a failure moves back whatever was moved
                try (var s = Files.list(dir)) {
                    for (Path p : s.toList()) {
                        if (!p.equals(aside)) {
                            Files.move(p, aside.resolve(p.getFileName()));
                        }
                    }
                }
                Files.createFile(aside.resolve(SET_ASIDE_COMPLETE));
            } catch (IOException e) {
                try {
                    restoreOverwritten(dir);
                } catch (IOException | RuntimeException again) {
                    LOG.warn("--out {}: {} (the old run's files are in {}; the next start puts them back)", dir,
                            again.getMessage(), aside);
                }
                throw new Mm1Exception("--out " + dir + ": cannot set the old run aside for --overwrite: "
                        + e.getMessage() + " (nothing was changed)", e);
            }
        }
        boolean ok = false;
        boolean[] stepped = {false};
        Thread[] dropping = {null};
        try {
            mkdirs(dir);
            boolean hadOld = setAside;
            R r = body.apply(() -> {
                stepped[0] = true;
                if (hadOld && dropping[0] == null) {
                    dropping[0] = startDrop(dir);
                }
            });
            ok = true;
            return r;
        } finally {
            // a run that logged a step keeps its folder, failed or not (its measurements, a diverged run's record)
            if (ok || stepped[0]) {
                if (setAside && dropping[0] == null) {
                    dropping[0] = startDrop(dir);
                }
                if (dropping[0] != null) {
                    try {
                        dropping[0].join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            } else {
                try {
                    if (setAside) {
                        restoreOverwritten(dir); // the old run comes back untouched
                    } else if (existed) {
                        deleteContents(dir); // an empty folder the user made stays, empty
                    } else {
                        OutputDir.deleteTree(dir);
                    }
                } catch (IOException | RuntimeException e) {
                    LOG.warn("--out {}: cleaning up after the failed run: {}{}", dir, e.getMessage(),
                            setAside ? " (the old run's files are in " + aside + "; the next start puts them back)"
                                    : "");
                }
            }
        }
    }

    /** {@link #recoverOverwritten} under the folder's lock (for a CLI about to read the run's run.json). */
    public static void recoverOverwrittenLocked(Path out) {
        if (Files.isDirectory(out.resolve(OVERWRITTEN), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            inRunFolder(out, dir -> {
                recoverOverwritten(dir);
                return null;
            });
        }
    }

    /**
     * Finishes what a killed {@code --overwrite} left in {@code dir}, by its markers: old files marked for deletion
     * are deleted; otherwise they are put back (the new run had not logged a step). Refuses to go on when that
     * fails, before anything else is touched.
     */
    static void recoverOverwritten(Path dir) {
        Path aside = dir.resolve(OVERWRITTEN);
        if (!Files.isDirectory(aside, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.exists(aside.resolve(SET_ASIDE_DROP))) {
            dropAside(dir); // a failure is a warning: these files are garbage now
            return;
        }
        try {
            restoreOverwritten(dir);
            LOG.warn("--out {}: put back the run an interrupted --overwrite had set aside", dir);
        } catch (IOException e) {
            throw new Mm1Exception("--out " + dir + ": cannot finish what an interrupted --overwrite left in " + aside
                    + ": " + e.getMessage() + " (move its files back by hand, or delete it)", e);
        }
    }

    /**
     * Moves the old files back from {@code .overwritten/}. When the set-aside had completed, the new run's files are
     * deleted first; when it had not (interrupted part way), the new run never started and the files still in
     * {@code dir} are the old run's own, kept.
     */
    private static void restoreOverwritten(Path dir) throws IOException {
        Path aside = dir.resolve(OVERWRITTEN);
        boolean complete = Files.exists(aside.resolve(SET_ASIDE_COMPLETE));
        Path restoring = aside.resolve(SET_ASIDE_RESTORING);
        // 1. the new run's files go (only before any old file has come back: an interrupted put-back resumes at 2)
        if (complete && !Files.exists(restoring)) {
            try (var s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    if (!p.equals(aside)) {
                        OutputDir.deleteTree(p);
                    }
                }
            }
        }
        if (!Files.exists(restoring)) {
            Files.createFile(restoring);
        }
        // 2. the old files come back, then the markers go, the restoring one last
        try (var s = Files.list(aside)) {
            for (Path p : s.toList()) {
                if (!isMarker(p)) {
                    Files.move(p, dir.resolve(p.getFileName()));
                }
            }
        }
        Files.deleteIfExists(aside.resolve(SET_ASIDE_COMPLETE));
        Files.deleteIfExists(restoring);
        Files.delete(aside);
    }

    private static boolean isMarker(Path p) {
        String n = p.getFileName().toString();
        return n.equals(SET_ASIDE_COMPLETE) || n.equals(SET_ASIDE_DROP) || n.equals(SET_ASIDE_RESTORING);
    }

    /**
     * Deletes {@code .overwritten/} best-effort, entry by entry, its markers last (the drop marker after the
     * complete one), so that a kill part way leaves it marked for deletion; an entry that cannot be deleted is a
     * warning (the rest still goes).
     */
    private static void dropAside(Path dir) {
        Path aside = dir.resolve(OVERWRITTEN);
        if (!Files.isDirectory(aside, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        String failed = null;
        try (var s = Files.list(aside)) {
            for (Path p : s.toList()) {
                if (!isMarker(p)) {
                    try {
                        OutputDir.deleteTree(p);
                    } catch (IOException e) {
                        failed = e.getMessage();
                    }
                }
            }
        } catch (IOException e) {
            failed = e.getMessage();
        }
        try {
            if (failed == null) {
                Files.deleteIfExists(aside.resolve(SET_ASIDE_RESTORING));
                Files.deleteIfExists(aside.resolve(SET_ASIDE_COMPLETE));
                Files.deleteIfExists(aside.resolve(SET_ASIDE_DROP));
                Files.deleteIfExists(aside);
                return;
            }
        } catch (IOException e) {
            failed = e.getMessage();
        }
        LOG.warn("--out {}: cannot delete all of the overwritten run's files in {} ({}); they are marked for "
                + "deletion: delete the folder by hand", dir, aside, failed);
    }

    /**
     * Marks {@code .overwritten/} for deletion and deletes it on a thread of its own (a large old run would
     * otherwise hold up the new run's second step); a failure is a warning, the next start retries.
     */
    private static Thread startDrop(Path dir) {
        Path aside = dir.resolve(OVERWRITTEN);
        try {
            if (Files.isDirectory(aside)) {
                Files.createFile(aside.resolve(SET_ASIDE_DROP));
            }
        } catch (IOException e) {
            LOG.warn("--out {}: cannot mark the overwritten run's files for deletion: {}", dir, e.getMessage());
        }
        Thread t = new Thread(() -> dropAside(dir), "mm1-overwrite-drop");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Refuses a {@code --stop-at-step} (0: none) past the run's end or not after the step it resumes from. */
    static void checkStopAt(long stopAt, long steps, long resumedStep) {
        if (stopAt > steps) {
            throw new Mm1Exception("--stop-at-step " + stopAt + " is past the run's last step (train.steps = " + steps
                    + ")");
        }
        if (stopAt > 0 && stopAt <= resumedStep) {
            throw new Mm1Exception("--stop-at-step " + stopAt + ": the run is already at step " + resumedStep);
        }
    }

    /** {@code o.key = v}, or null when v is NaN/∞ (JSON has no NaN; Jackson would write the string "NaN"). */
    public static void putFinite(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) {
            o.put(key, v);
        } else {
            o.putNull(key);
        }
    }

    /**
     * The CLI's closing line of a training run: "finished|stopped after step N: best validation loss X", or
     * "(no validation ran)" when train.eval_interval let none run.
     */
    public static String outcome(boolean complete, long step, JsonNode summary) {
        JsonNode best = summary.path("bestValLoss");
        return String.format(java.util.Locale.ROOT, "%s after step %d: %s", complete ? "finished" : "stopped", step,
                best.isNumber() && Double.isFinite(best.asDouble())
                        ? String.format(java.util.Locale.ROOT, "best validation loss %.4f", best.asDouble())
                        : "no validation ran (see train.eval_interval)");
    }

    static void mkdirs(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Mm1Exception("--out " + dir + ": cannot create: " + e.getMessage(), e);
        }
    }

    static void deleteContents(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                OutputDir.deleteTree(p);
            }
        } catch (IOException e) {
            throw new Mm1Exception("--out " + dir + ": cannot clear for --overwrite: " + e.getMessage(), e);
        }
    }
}
