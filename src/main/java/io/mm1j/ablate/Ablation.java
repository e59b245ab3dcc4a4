package io.mm1j.ablate;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.ablate.Study.Training;
import io.mm1j.ablate.Study.Variant;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.data.SynthWriter;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.FolderLock;
import io.mm1j.io.JsonFiles;
import io.mm1j.io.OutputDir;
import io.mm1j.config.VisionConfig;
import io.mm1j.mllm.ChatTemplate;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.train.EncoderPretrainer;
import io.mm1j.train.LrSweep;
import io.mm1j.train.MovedFolder;
import io.mm1j.train.Pretrainer;
import io.mm1j.train.RunConfig;
import io.mm1j.train.RunData;
import io.mm1j.train.RunModels;
import io.mm1j.train.Upcycle;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code mm1 ablate}: MM1's ablations (MM1 §3) rerun at laptop scale. Every configuration × seed is pre-trained for
 * the same number of steps on the same tokens ({@link Pretrainer}), then scored 0/4/8-shot on held-out captions and
 * questions plus text perplexity ({@link AblationEval}); {@link AblationReport} writes {@code report.md} (a table per
 * study with bootstrap intervals over seeds and items, MM1's lesson beside it with a verdict by a stated rule),
 * {@code plots/*.png} and {@code results.jsonl}.
 *
 * <p>Layout of {@code --out}: {@code ablate.json} (what was asked), {@code base.json} (the resolved base config),
 * {@code plan.json} (the measured step time and the steps chosen), {@code shared/tokenizer.json} (one BPE tokenizer
 * for every run, so perplexities compare), {@code shared/eval/} (the held-out worlds), {@code probe/} (the timing
 * run), {@code runs/ID_sSEED/} (ordinary {@code mm1 pretrain} run folders plus {@code ablate-eval.json}),
 * {@code lr-sweep/} (the {@code lr} study).
 *
 * <p>Resumable: a run folder with a complete {@code summary.json} and a config equal to the one wanted is reused,
 * and so are its saved scores; an incomplete one is trained again from the start. {@code plan.json}'s steps are kept
 * on resume so that old and new runs stay comparable.
 */
public final class Ablation {
    private static final Pretrainer.Progress QUIET = Pretrainer.Progress.QUIET;

    /** Steps of the timing probe (the first is warm-up and not timed). */
    static final int PROBE_STEPS = 8;
    /** Fewer steps than this teach the models nothing worth comparing: the budget is refused instead. */
    public static final int MIN_STEPS = 20;
    /** BPE vocabulary of the shared tokenizer. */
    static final int VOCAB = 1024;
    /** Relative cost of one {@code lr} sub-run step against a base step (text-only 2-layer Llamas, seq 128). */
    static final double LR_RUN_COST = 0.15;
    /** Fixed seconds of one {@code lr} sub-run (start-up, the MFU roofline, validation). */
    static final double LR_RUN_FIXED_SECONDS = 10;
    /** LR-sweep sub-runs per size and seed assumed when sizing (an adaptive grid of 5, sometimes extended). */
    static final int LR_RUNS_PER_SIZE = 6;
    /** Encoder stage of {@code encoder-objective}: pairs per step (CLIP's contrastive batch at laptop scale). */
    static final int ENCODER_BATCH = 64;
    /** Held-out pairs the encoder stage scores retrieval on (its own 10% of the training pictures). */
    static final int ENCODER_EVAL_PAIRS = 64;
    /** SFT: peak LR (AdaFactor; MM1's 1e-5 moves a laptop model too little in tens of steps). */
    static final double SFT_LR = 1e-3;
    /** SFT conversations are drawn at this multiple of the encoder's resolution (room for sub-images). */
    static final int SFT_SIZE_FACTOR = 2;
    /** Text tokens per picture of an SFT conversation assumed when estimating its FLOPs (a few short QA turns). */
    static final int SFT_TEXT_TOKENS = 64;
    /** Upcycling: experts and MoE spacing (every 2nd FFN, MM1-3B-MoE's spacing, at a laptop expert count). */
    static final int EXPERTS = 4;
    static final int EVERY = 2;

    /**
     * @param config    base run config (null: the built-in {@code /ablate/base.json})
     * @param sets      {@code --set} overrides of the base config
     * @param data      a {@code data.sources} JSON list or a {@code mm1 data synth} folder to train on (null: the
     *                  synthetic world written per seed)
     * @param evalItems captions and questions scored per shot setting
     * @param textDocs  held-out text documents for perplexity
     * @param steps     steps per run, or 0 to size them from the budget
     * @param reportOnly write the report from the runs finished so far (train and evaluate nothing)
     * @param planOnly  probe and plan (write {@code plan.json}, print the steps chosen), then stop
     */
    public record Options(Path out, List<Study> studies, int seeds, double budgetMinutes, Path config,
                          List<String> sets, Path data, int evalItems, int textDocs, int steps, boolean reportOnly,
                          boolean planOnly) {
        public Options(Path out, List<Study> studies, int seeds, double budgetMinutes, Path config, List<String> sets,
                       Path data, int evalItems, int textDocs, int steps, boolean reportOnly) {
            this(out, studies, seeds, budgetMinutes, config, sets, data, evalItems, textDocs, steps, reportOnly, false);
        }

        public Options {
            if (reportOnly && planOnly) {
                throw new Mm1Exception("--report-only and --plan-only exclude each other");
            }
            if (steps < 0) {
                throw new Mm1Exception("--steps must be >= 1 (or absent to size from the budget), got " + steps);
            }
            if (seeds < 1) {
                throw new Mm1Exception("--seeds must be >= 1, got " + seeds);
            }
            if (!(budgetMinutes > 0)) {
                throw new Mm1Exception("--budget-minutes must be > 0, got " + budgetMinutes);
            }
            if (evalItems < 1 || textDocs < 1) {
                throw new Mm1Exception("--eval-items and --text-docs must be >= 1");
            }
        }
    }

    /** What the CLI prints. */
    public interface Listener {
        void line(String s);
    }

    /**
     * One finished configuration × seed in one study; {@code steps}, {@code tokens}, {@code trainSeconds} and
     * {@code flops} add up its stages (a shared pre-training run counted in full).
     */
    public record RunRecord(String study, Variant variant, int seed, Path runDir, long steps, long tokens,
                            double trainSeconds, long params, long activeParams, double flops,
                            AblationEval.Result eval, boolean reused, List<Stage> stages) {}

    /**
     * One training stage of a run: what it trained ({@code name}), where, how long, on how much.
     *
     * @param units what {@code count} counts per run: tokens (pre-training, SFT) or image-text pairs (encoder)
     */
    public record Stage(String name, Path dir, long steps, long count, String units, double seconds, double flops) {}

    /** Encoder-stage steps for {@code steps} pre-training steps (the same count, of {@link #ENCODER_BATCH} pairs). */
    public static int encoderSteps(int steps) {
        return Math.max(1, (int) Math.round(ENCODER_STEP_RATIO * steps));
    }

    /** SFT steps for {@code steps} pre-training steps. */
    public static int sftSteps(int steps) {
        return Math.max(1, (int) Math.round(SFT_STEP_RATIO * steps));
    }

    /** Pre-training steps of a share of the plan (a positive share gets at least one step). */
    static int pretrainSteps(double share, int steps) {
        return share <= 0 ? 0 : Math.max(1, (int) Math.round(share * steps));
    }

    /** The step plan: measured on the probe, chosen once, kept on resume. */
    public record Plan(int steps, double stepSeconds, double overheadSeconds, double evalSeconds,
                       double probeSeconds, int runs, double relativeCost, double budgetMinutes,
                       double predictedMinutes, double encoderStepSeconds, double sftStepSeconds) {}

    /**
     * The second stages' measured seconds per step (encoder stage: a CLIP step of {@link #ENCODER_BATCH} pairs;
     * SFT: a low-resolution step) and the encoder run's start-up; NaN where not probed (then their FLOPs relative to
     * the base step size them).
     */
    record StageRates(double encoderStepSeconds, double encoderOverheadSeconds, double sftStepSeconds) {
        static final StageRates NONE = new StageRates(Double.NaN, Double.NaN, Double.NaN);
    }

    private Ablation() {}

    /**
     * Steps per run that fit {@code budgetSeconds}: what is left after {@code spentSeconds} (the probe) and each
     * run's fixed cost ({@code fixedSeconds[i]}: start-up, validation, evaluation) is shared out by the runs' relative
     * step costs ({@code relCosts[i]}, 1 = the probed base config at {@code stepSeconds} per step).
     *
     * @throws Mm1Exception when fewer than {@code minSteps} would fit, naming the budget that would do
     */
    static int sizeSteps(double budgetSeconds, double spentSeconds, double stepSeconds, double[] fixedSeconds,
                         double[] relCosts, int minSteps) {
        double cost = 0;
        double fixed = 0;
        for (int i = 0; i < relCosts.length; i++) {
            cost += relCosts[i];
            fixed += fixedSeconds[i];
        }
        double left = budgetSeconds - spentSeconds - fixed;
        int steps = (int) Math.floor(left / (stepSeconds * cost));
        if (steps < minSteps) {
            double need = spentSeconds + fixed + minSteps * stepSeconds * cost;
            throw new Mm1Exception(String.format(Locale.ROOT, "--budget-minutes %.1f is too small for %d runs: at "
                    + "%.2f s per base step and %.0f s per run for start-up and evaluation, %d steps per run need "
                    + "about %.0f minutes; raise --budget-minutes, use fewer --seeds or fewer studies",
                    budgetSeconds / 60, relCosts.length, stepSeconds, fixed / relCosts.length, minSteps,
                    Math.ceil(need / 60)));
        }
        return steps;
    }

    public static List<RunRecord> run(Options o, Listener l) {
        Path out = o.out().toAbsolutePath().normalize();
        mkdirs(out.getParent());
        if (o.reportOnly()) { // reads the runs, writes only the report files: no lock, a running session may go on
            if (!Files.isRegularFile(out.resolve("plan.json"))) {
                throw new Mm1Exception("--report-only: " + o.out() + " holds no planned ablation (plan.json)");
            }
            return new Session(o, out, l).go();
        }
        try (FolderLock lock = FolderLock.tryAcquire(out.resolveSibling("." + out.getFileName() + ".lock"))) {
            if (lock == null) {
                throw new Mm1Exception("--out " + o.out() + ": another mm1 ablate is running in this folder");
            }
            return new Session(o, out, l).go();
        }
    }

    /** One invocation. */
    private static final class Session {
        private final Options o;
        private final Path out;
        private final Listener l;
        private Path baseFile;
        private Path tokenizer;
        private RunConfig base;

        Session(Options o, Path out, Listener l) {
            this.o = o;
            this.out = out;
            this.l = l;
        }

        List<RunRecord> go() {
            prepareFolder();
            Plan plan = plan();
            if (Double.isNaN(plan.stepSeconds())) {
                l.line(String.format(Locale.ROOT, "plan: %d steps per run (--steps; no timing probe), %d tokens each, "
                        + "%d runs", plan.steps(), (long) plan.steps() * tokensPerStep(base), plan.runs()));
            } else {
                l.line(String.format(Locale.ROOT, "plan: %d steps per run (sized from the budget; %d tokens each), "
                        + "%.2f s per base step, %.0f s start-up + %.0f s evaluation per run, %d runs → about %.0f of "
                        + "%.0f minutes", plan.steps(), (long) plan.steps() * tokensPerStep(base), plan.stepSeconds(),
                        plan.overheadSeconds(), plan.evalSeconds(), plan.runs(), plan.predictedMinutes(),
                        plan.budgetMinutes()));
            }
            if (o.studies().stream().anyMatch(s -> s.variants().stream().anyMatch(v -> v.training().objective()
                    != null))) {
                l.line(String.format(Locale.ROOT, "encoder stage: %d steps of %d image-text pairs per encoder%s",
                        encoderSteps(plan.steps()), ENCODER_BATCH, Double.isNaN(plan.encoderStepSeconds()) ? ""
                                : String.format(Locale.ROOT, ", %.2f s per step measured", plan.encoderStepSeconds())));
            }
            if (o.studies().stream().anyMatch(Study::fineTunes)) {
                l.line(String.format(Locale.ROOT, "SFT stage: %d steps (%d tokens) per fine-tuned run%s", sftSteps(
                        plan.steps()), (long) sftSteps(plan.steps()) * tokensPerStep(base),
                        Double.isNaN(plan.sftStepSeconds()) ? "" : String.format(Locale.ROOT,
                                ", %.2f s per low-resolution step measured", plan.sftStepSeconds())));
            }
            if (o.planOnly()) {
                l.line("--plan-only: nothing trained; the plan is in " + out.resolve("plan.json"));
                return List.of();
            }
            List<RunRecord> records = new ArrayList<>();
            LrSweep.Result lr = null;
            Map<String, RunRecord> done = new LinkedHashMap<>();
            int total = countRuns();
            int[] index = {0};
            for (Study s : o.studies()) {
                if (s.name().equals("lr")) {
                    if (o.reportOnly()) {
                        l.line("lr: not part of --report-only (its sweep report is lr-sweep/report.md)");
                    } else {
                        lr = lrSweep(plan);
                    }
                    continue;
                }
                for (Variant v : s.variants()) {
                    if (!applicable(v)) {
                        l.line(s.name() + "/" + v.id() + ": skipped (" + why(v) + ")");
                        continue;
                    }
                    for (int seed = 0; seed < o.seeds(); seed++) {
                        String key = v.id() + "_s" + seed;
                        RunRecord prev = done.get(key);
                        if (prev == null && o.reportOnly()) {
                            prev = finished(s, v, seed, plan);
                            if (prev == null) {
                                l.line(s.name() + "/" + v.id() + " seed " + seed + ": not finished yet (left out)");
                                continue;
                            }
                            done.put(key, prev);
                        }
                        if (prev == null) {
                            index[0]++;
                            prev = runOne(s, v, seed, plan, index[0], total);
                            done.put(key, prev);
                        }
                        records.add(new RunRecord(s.name(), v, seed, prev.runDir(), prev.steps(), prev.tokens(),
                                prev.trainSeconds(), prev.params(), prev.activeParams(), prev.flops(), prev.eval(),
                                prev.reused(), prev.stages()));
                    }
                }
            }
            AblationReport.write(out, o, plan, base, records, lr);
            l.line("report: " + out.resolve("report.md"));
            return records;
        }

        /** {@code --out} is new, empty, or an earlier ablation (resumed); anything else is refused. */
        private void prepareFolder() {
            Path marker = out.resolve("ablate.json");
            if (Files.exists(out) && !OutputDir.isEmptyOrAbsent(out) && !Files.isRegularFile(marker)) {
                throw new Mm1Exception("--out " + o.out() + ": folder exists, is not empty and holds no ablation "
                        + "(ablate.json); choose another --out");
            }
            mkdirs(out);
            if (!o.reportOnly()) {
                writeMarker(marker);
            }
            // the base config: resolved once; a resumed ablation must ask for the same one
            RunConfig wanted = RunConfig.resolve(baseSource(), Map.of(), baseSets());
            baseFile = out.resolve("base.json");
            if (Files.isRegularFile(baseFile)) {
                RunConfig had = RunConfig.resolve(baseFile, Map.of(), List.of());
                String diff = Pretrainer.firstDifference(had.tree(), wanted.tree(), "");
                if (diff != null) {
                    throw new Mm1Exception("--out " + o.out() + " was started with another base config ('"
                            + diff.substring(1) + "' differs; see " + baseFile + "); use a new --out");
                }
            } else {
                AtomicFiles.writeString(baseFile, wanted.tree().toPrettyString());
            }
            base = wanted;
            tokenizer = out.resolve("shared/tokenizer.json");
        }

        private void writeMarker(Path marker) {
            ObjectNode m = JsonFiles.MAPPER.createObjectNode();
            m.put("studies", String.join(",", o.studies().stream().map(Study::name).toList()));
            m.put("seeds", o.seeds());
            m.put("budgetMinutes", o.budgetMinutes());
            m.put("evalItems", o.evalItems());
            m.put("textDocuments", o.textDocs());
            m.put("data", o.data() == null ? null : o.data().toAbsolutePath().toString());
            AtomicFiles.writeString(marker, m.toPrettyString());
        }

        private Path baseSource() {
            if (o.config() != null) {
                return o.config();
            }
            Path f = out.resolve(".base-default.json");
            try (InputStream in = Ablation.class.getResourceAsStream("/ablate/base.json")) {
                AtomicFiles.writeString(f, new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new IllegalStateException("ablate/base.json missing from the jar", e);
            }
            return f;
        }

        private List<String> baseSets() {
            List<String> s = new ArrayList<>();
            s.add("tokenizer={\"train\":{\"vocab_size\":" + VOCAB + "}}");
            if (o.data() != null) {
                s.add("data.sources=" + sourcesOf(o.data()));
            }
            s.addAll(o.sets());
            return s;
        }

        /** A run's config: the base, the variant's overrides, the steps and the seed. */
        RunConfig config(Variant v, int seed, int steps, List<String> extra) {
            return config(v, seed, steps, extra, List.of());
        }

        /** The same, with {@code late} overrides applied after the shared world is chosen (e.g. an encoder init). */
        RunConfig config(Variant v, int seed, int steps, List<String> extra, List<String> late) {
            List<String> sets = new ArrayList<>();
            sets.add("tokenizer=" + JsonFiles.MAPPER.getNodeFactory().textNode(tokenizer.toString()));
            sets.add("optim.warmup_steps=" + Math.max(1, steps / 10));
            sets.add("train.eval_interval=" + steps);
            sets.add("train.log_interval=" + Math.max(1, steps / 10));
            sets.add("train.checkpoint_interval=0");
            sets.addAll(v.sets());
            sets.addAll(extra);
            sharedWorld(sets, seed);
            sets.addAll(late);
            Map<String, String> shorthand = new LinkedHashMap<>();
            shorthand.put("train.steps", Integer.toString(steps));
            shorthand.put("train.seed", Integer.toString(seed));
            return RunConfig.resolve(baseFile, shorthand, sets);
        }

        // ---------------------------------------------------------------- plan

        private Plan plan() {
            Path planFile = out.resolve("plan.json");
            if (Files.isRegularFile(planFile) && Files.isRegularFile(tokenizer)) {
                try {
                    JsonNode saved = JsonFiles.MAPPER.readTree(planFile.toFile());
                    Plan p = JsonFiles.MAPPER.treeToValue(saved, Plan.class);
                    if (!saved.has("encoderStepSeconds")) { // planned before the second stages were probed
                        p = new Plan(p.steps(), p.stepSeconds(), p.overheadSeconds(), p.evalSeconds(),
                                p.probeSeconds(), p.runs(), p.relativeCost(), p.budgetMinutes(), p.predictedMinutes(),
                                Double.NaN, Double.NaN);
                    }
                    if (o.steps() > 0 && o.steps() != p.steps()) {
                        throw new Mm1Exception("--steps " + o.steps() + ": " + planFile + " has " + p.steps()
                                + " steps per run; finished runs would not compare (use a new --out)");
                    }
                    if (p.budgetMinutes() != o.budgetMinutes()) {
                        l.line(String.format(Locale.ROOT, "plan.json was sized for %.1f minutes; keeping its %d "
                                + "steps so that finished runs stay comparable (a new --out re-plans)",
                                p.budgetMinutes(), p.steps()));
                    } else {
                        l.line("resuming: the plan of " + planFile);
                    }
                    return p;
                } catch (IOException e) {
                    throw new Mm1Exception(planFile + ": unreadable (" + e.getMessage() + "); delete it to re-plan",
                            e);
                }
            }
            if (o.steps() > 0) { // steps fixed: no timing probe, only the shared tokenizer
                if (!Files.isRegularFile(tokenizer)) {
                    List<String> sets = new ArrayList<>();
                    sharedWorld(sets, 0);
                    RunConfig rc = RunConfig.resolve(baseFile, Map.of("train.seed", "0"), sets);
                    Path tmp = out.resolve("shared/.tokenizer.json.tmp");
                    mkdirs(tmp.getParent());
                    RunData.writeTokenizer(rc, RunData.sources(rc, out.resolve("shared"), imageSize(rc)), VOCAB, tmp);
                    try {
                        AtomicFiles.moveAtomically(tmp, tokenizer);
                    } catch (IOException e) {
                        throw new Mm1Exception(tokenizer + ": cannot write: " + e.getMessage(), e);
                    }
                }
                List<Job> jobs = jobs(StageRates.NONE, Double.NaN);
                Plan p = new Plan(o.steps(), Double.NaN, Double.NaN, Double.NaN, 0, jobs.size(),
                        jobs.stream().mapToDouble(Job::cost).sum(), o.budgetMinutes(), Double.NaN, Double.NaN,
                        Double.NaN);
                AtomicFiles.writeString(planFile, JsonFiles.MAPPER.valueToTree(p).toPrettyString());
                return p;
            }
            long t0 = System.nanoTime();
            Path probe = out.resolve("probe");
            Map<String, String> shorthand = Map.of("train.steps", Integer.toString(PROBE_STEPS), "train.seed", "0");
            List<String> probeSets = new ArrayList<>(List.of("train.eval_interval=" + PROBE_STEPS,
                    "optim.warmup_steps=1", "train.log_interval=1", "train.checkpoint_interval=0"));
            sharedWorld(probeSets, 0);
            RunConfig rc = RunConfig.resolve(baseFile, shorthand, probeSets);
            AblationEval.Result probeEval = AblationEval.saved(probe, o.evalItems(), o.textDocs());
            JsonNode summary;
            double evalSeconds;
            if (probeEval != null && complete(probe, rc) && Files.isRegularFile(tokenizer)) {
                // an earlier session probed but did not plan (its budget was refused): its timings stand
                l.line("probe: reusing the timings of " + probe);
                summary = readJson(probe.resolve("summary.json"));
                evalSeconds = probeEval.seconds();
            } else {
                l.line("probe: timing " + PROBE_STEPS + " steps of the base config and one evaluation …");
                summary = Pretrainer.run(new Pretrainer.Options(probe, rc, false, true, null, 0), QUIET).summary();
                copy(probe.resolve("tokenizer.json"), tokenizer);
                evalSeconds = evaluate(probe, 0, imageSize(rc)).seconds();
            }
            double tps = summary.path("tokensPerSecond").asDouble();
            double stepSeconds = tokensPerStep(base) / tps;
            double overhead = Math.max(0, summary.path("wallSeconds").asDouble() - PROBE_STEPS * stepSeconds);
            StageRates rates = probeStages();
            double probeSeconds = (System.nanoTime() - t0) / 1e9;
            List<Job> jobs = jobs(rates, stepSeconds);
            double[] costs = new double[jobs.size()];
            double[] fixed = new double[jobs.size()];
            double cost = 0;
            double fixedTotal = 0;
            for (int i = 0; i < costs.length; i++) {
                Job j = jobs.get(i);
                costs[i] = j.cost();
                // lr sub-runs: text-only, no few-shot evaluation; start-up measured about 10 s each on a busy machine
                fixed[i] = j.lr() ? LR_RUN_FIXED_SECONDS : j.starts() * overhead + j.evals() * evalSeconds
                        + (j.encoderStage() ? (Double.isNaN(rates.encoderOverheadSeconds()) ? overhead
                        : rates.encoderOverheadSeconds()) : 0);
                cost += costs[i];
                fixedTotal += fixed[i];
            }
            int steps = o.steps() > 0 ? o.steps() : sizeSteps(o.budgetMinutes() * 60, probeSeconds, stepSeconds,
                    fixed, costs, MIN_STEPS);
            double predicted = (probeSeconds + fixedTotal + steps * stepSeconds * cost) / 60;
            Plan p = new Plan(steps, stepSeconds, overhead, evalSeconds, probeSeconds, costs.length, cost,
                    o.budgetMinutes(), predicted, rates.encoderStepSeconds(), rates.sftStepSeconds());
            AtomicFiles.writeString(planFile, JsonFiles.MAPPER.valueToTree(p).toPrettyString());
            return p;
        }

        /**
         * One training job the plan sizes: its cost per plan step relative to a probed base step (all its stages),
         * its start-ups (a stage each) and evaluations, or an {@code lr} sub-run.
         */
        private record Job(double cost, int starts, int evals, boolean lr, boolean encoderStage) {
            Job(double cost, int starts, int evals, boolean lr) {
                this(cost, starts, evals, lr, false);
            }
        }

        /** The probe variants of the second stages: a CLIP encoder stage, and SFT at the encoder's resolution. */
        private static final Variant PROBE_ENCODER = Variant.encoder("probe", "probe", Training.ENCODER_CLIP);
        private static final Variant PROBE_SFT = Variant.sft("probe", "probe", 0, 0);

        /**
         * Times {@link #PROBE_STEPS} steps of each second stage the selected studies need ({@code probe-encoder/}:
         * a CLIP encoder stage, {@code probe-sft/}: SFT at the encoder's resolution from random weights); finished
         * probes of an earlier session are reused.
         */
        private StageRates probeStages() {
            boolean encoder = false;
            boolean sft = false;
            for (Study s : o.studies()) {
                for (Variant v : s.variants()) {
                    encoder |= v.training().objective() != null && applicable(v);
                    sft |= v.training() == Training.SFT;
                }
            }
            double enc = Double.NaN;
            double encOverhead = Double.NaN;
            double sftStep = Double.NaN;
            if (encoder) {
                Path dir = out.resolve("probe-encoder");
                RunConfig rc = encoderConfig(PROBE_ENCODER, 0, PROBE_STEPS);
                if (complete(dir, rc, "encoder", EncoderPretrainer.DEFAULTS)) {
                    l.line("probe: reusing the encoder-stage timings of " + dir);
                } else {
                    l.line("probe: timing " + PROBE_STEPS + " encoder-stage steps (CLIP, " + ENCODER_BATCH
                            + " pairs each) …");
                    if (o.data() == null) {
                        ensureWorld(0, imageSize(base));
                    }
                    EncoderPretrainer.run(new EncoderPretrainer.Options(dir, rc, false, true, 0), QUIET);
                }
                JsonNode sum = readJson(dir.resolve("summary.json"));
                enc = ENCODER_BATCH / sum.path("imagesPerSecond").asDouble();
                encOverhead = Math.max(0, sum.path("wallSeconds").asDouble() - PROBE_STEPS * enc);
            }
            if (sft) {
                Path dir = out.resolve("probe-sft");
                RunConfig rc = sftConfig(PROBE_SFT, 0, PROBE_STEPS);
                if (complete(dir, rc)) {
                    l.line("probe: reusing the SFT timings of " + dir);
                } else {
                    l.line("probe: timing " + PROBE_STEPS + " SFT steps …");
                    ensureSftData(0);
                    Pretrainer.run(new Pretrainer.Options(dir, rc, false, true, null, 0), QUIET);
                }
                sftStep = tokensPerStep(rc) / readJson(dir.resolve("summary.json")).path("tokensPerSecond")
                        .asDouble();
            }
            return new StageRates(enc, encOverhead, sftStep);
        }

        /**
         * Every distinct job the selected studies need: each variant × seed with all its stages (the encoder stage
         * of {@code encoder-objective}, the SFT stage of the SFT studies) and the shared pre-training runs the SFT
         * variants start from when no study trains them anyway, plus the {@code lr} sub-runs.
         */
        List<Job> jobs(StageRates rates, double stepSeconds) {
            List<Job> jobs = new ArrayList<>();
            RunConfig baseRc = config(Variant.base("base"), 0, 1, List.of());
            double baseFlops = flopsPerStep(baseRc);
            VisionConfig vision = RunModels.build(baseRc, VOCAB, "encoder").vision();
            // a second stage's step in base steps: measured (scaled by FLOPs between its arms), else by FLOPs alone
            java.util.function.ToDoubleFunction<Variant> encoderStep = v -> {
                double f = encoderFlopsPerStep(encoderConfig(v, 0, 1), vision);
                return Double.isNaN(rates.encoderStepSeconds()) ? f / baseFlops : rates.encoderStepSeconds()
                        / stepSeconds * f / encoderFlopsPerStep(encoderConfig(PROBE_ENCODER, 0, 1), vision);
            };
            java.util.function.ToDoubleFunction<Variant> sftStep = v -> {
                double f = sftFlopsPerStep(sftShape(v));
                return Double.isNaN(rates.sftStepSeconds()) ? f / baseFlops : rates.sftStepSeconds() / stepSeconds
                        * f / sftFlopsPerStep(sftShape(PROBE_SFT));
            };
            List<Variant> vs = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (Study s : o.studies()) {
                if (s.name().equals("lr")) {
                    for (int i = 0; i < 3 * LR_RUNS_PER_SIZE * o.seeds(); i++) {
                        jobs.add(new Job(LR_RUN_COST, 0, 0, true));
                    }
                    continue;
                }
                for (Variant v : s.variants()) {
                    if (!ids.contains(v.id()) && applicable(v)) {
                        ids.add(v.id());
                        vs.add(v);
                    }
                }
            }
            List<String> pretraining = new ArrayList<>();
            for (Variant v : vs) {
                Job j = switch (v.training()) {
                    case PLAIN -> new Job(Math.max(0.3, flopsPerStep(config(v, 0, 1, List.of())) / baseFlops), 1, 1,
                            false);
                    case UPCYCLED -> new Job(Math.max(0.3, (baseFlops + flopsPerStep(config(v, 0, 1,
                            List.of(moeSet())))) / 2 / baseFlops), 2, 1, false);
                    case ENCODER_CLIP, ENCODER_AIM -> new Job(flopsPerStep(config(v, 0, 1, List.of())) / baseFlops
                            + ENCODER_STEP_RATIO * encoderStep.applyAsDouble(v), 1, 1, false, true);
                    case SFT -> new Job(SFT_STEP_RATIO * sftStep.applyAsDouble(v), 1, 1, false);
                };
                for (int seed = 0; seed < o.seeds(); seed++) {
                    jobs.add(j);
                }
                if (v.training() == Training.SFT && v.sft().pretraining() > 0) {
                    String pre = pretrainName(v.sft().pretraining());
                    if (!ids.contains(pre) && !pretraining.contains(pre)) {
                        pretraining.add(pre);
                        for (int seed = 0; seed < o.seeds(); seed++) {
                            jobs.add(new Job(Math.min(1, v.sft().pretraining()), 1, 0, false));
                        }
                    }
                }
            }
            return jobs;
        }

        private int countRuns() {
            List<String> seen = new ArrayList<>();
            for (Study s : o.studies()) {
                for (Variant v : s.variants()) {
                    if (!seen.contains(v.id()) && applicable(v)) {
                        seen.add(v.id());
                    }
                }
            }
            return seen.size() * o.seeds();
        }

        // ---------------------------------------------------------------- runs

        /** A finished and evaluated run as a record, or null (for {@code --report-only}). */
        private RunRecord finished(Study s, Variant v, int seed, Plan plan) {
            Path dir = runDir(v, seed);
            try {
                AblationEval.Result eval = AblationEval.saved(dir, o.evalItems(), o.textDocs(),
                        v.training() == Training.SFT);
                if (eval == null) {
                    return null;
                }
                List<Stage> stages = stages(v, seed, plan.steps(), false);
                return stages == null ? null : record(s, v, seed, dir, plan, true, eval, stages);
            } catch (Mm1Exception e) {
                return null; // e.g. an encoder run folder gone: not finished
            }
        }

        private RunRecord runOne(Study s, Variant v, int seed, Plan plan, int index, int total) {
            Path dir = runDir(v, seed);
            String name = String.format(Locale.ROOT, "[%d/%d] %s/%s seed %d", index, total, s.name(), v.id(), seed);
            List<Stage> had = stages(v, seed, plan.steps(), false);
            boolean reused = had != null;
            List<Stage> stages;
            if (reused) {
                stages = had;
                l.line(name + ": trained before (reused)");
            } else {
                l.line(name + ": training " + describe(v, plan.steps()) + " …");
                stages = stages(v, seed, plan.steps(), true);
            }
            double trainSeconds = stages.stream().mapToDouble(Stage::seconds).sum();
            boolean chat = v.training() == Training.SFT;
            AblationEval.Result eval = AblationEval.saved(dir, o.evalItems(), o.textDocs(), chat);
            boolean evalReused = eval != null;
            if (eval == null) {
                eval = evaluate(dir, seed, evalSize(v), chat);
            }
            RunRecord r = record(s, v, seed, dir, plan, reused && evalReused, eval, stages);
            l.line(String.format(Locale.ROOT, "%s: %s  avg %.1f  CIDEr-D@0 %.1f  VQA@8 %.1f  text ppl %.2f  "
                    + "(train %.0f s, eval %.0f s%s)", name, reused ? "reused" : "done", avg(eval),
                    eval.mean("cider@0"), eval.mean("vqa@8"), eval.mean("text"), trainSeconds, eval.seconds(),
                    evalReused ? ", scores reused" : ""));
            return r;
        }

        /** What a variant trains, for the progress line. */
        private String describe(Variant v, int steps) {
            return switch (v.training()) {
                case PLAIN -> steps + " steps";
                case UPCYCLED -> steps / 2 + " dense + " + (steps - steps / 2) + " MoE steps";
                case ENCODER_CLIP, ENCODER_AIM -> "the " + v.training().objective() + " encoder (" + encoderSteps(steps)
                        + " steps × " + ENCODER_BATCH + " pairs), then " + steps + " steps";
                case SFT -> (v.sft().pretraining() > 0 ? pretrainSteps(v.sft().pretraining(), steps)
                        + " pre-training steps (shared), then " : "") + sftSteps(steps) + " SFT steps";
            };
        }

        private Path runDir(Variant v, int seed) {
            return out.resolve("runs").resolve(v.id() + "_s" + seed);
        }

        /**
         * The variant's training stages, the last one's folder being {@link #runDir}: each finished stage with the
         * wanted config is reused, the others trained when {@code train} (else null is returned for an unfinished
         * run). A stage already finished with another config is an error naming the key.
         */
        private List<Stage> stages(Variant v, int seed, int steps, boolean train) {
            Path dir = runDir(v, seed);
            List<Stage> out = new ArrayList<>();
            switch (v.training()) {
                case PLAIN -> {
                    RunConfig rc = config(v, seed, steps, List.of());
                    if (!pretrain(dir, rc, null, train)) {
                        return null;
                    }
                    out.add(stage("pre-training", dir, rc, steps, flopsPerStep(rc)));
                }
                case UPCYCLED -> {
                    RunConfig rc = config(v, seed, steps - steps / 2, List.of(moeSet()));
                    Path dense = dir.resolveSibling(dir.getFileName() + "-dense");
                    Path upcycled = dir.resolveSibling(dir.getFileName() + "-upcycled");
                    RunConfig d = config(Variant.base("dense"), seed, steps / 2, List.of());
                    if (!complete(dir, rc)) {
                        if (!train) {
                            return null;
                        }
                        pretrain(dense, d, null, true);
                        Upcycle.run(dense.resolve("model"), EXPERTS, EVERY, upcycled, true, seed);
                        Pretrainer.run(new Pretrainer.Options(dir, rc, false, true, upcycled, 0), QUIET);
                    }
                    out.add(stage("dense pre-training", dense, d, steps / 2, flopsPerStep(d)));
                    out.add(stage("MoE pre-training (upcycled)", dir, rc, steps - steps / 2, flopsPerStep(rc)));
                }
                case ENCODER_CLIP, ENCODER_AIM -> {
                    Path encDir = dir.resolveSibling(dir.getFileName() + "-encoder");
                    int encSteps = encoderSteps(steps);
                    RunConfig enc = encoderConfig(v, seed, encSteps);
                    RunConfig shape = config(v, seed, steps, List.of()); // the same shapes, before the encoder exists
                    RunConfig rc = config(v, seed, steps, List.of(), List.of("model.vision="
                            + JsonFiles.MAPPER.createObjectNode().put("init", encDir.resolve("encoder").toString())));
                    if (!complete(dir, rc)) {
                        if (!train) {
                            return null;
                        }
                        if (!complete(encDir, enc, "encoder", EncoderPretrainer.DEFAULTS)) {
                            if (o.data() == null) {
                                ensureWorld(seed, imageSize(shape));
                            }
                            EncoderPretrainer.run(new EncoderPretrainer.Options(encDir, enc, false, true, 0), QUIET);
                        }
                        Pretrainer.run(new Pretrainer.Options(dir, rc, false, true, null, 0), QUIET);
                    }
                    double encFlops = encoderFlopsPerStep(enc, RunModels.build(shape, VOCAB, "encoder").vision());
                    out.add(new Stage("encoder pre-training (" + v.training().objective() + ")", encDir, encSteps,
                            (long) encSteps * ENCODER_BATCH, "image-text pairs", trainSeconds(encDir),
                            encFlops * encSteps));
                    out.add(stage("pre-training", dir, rc, steps, flopsPerStep(shape)));
                }
                case SFT -> {
                    double share = v.sft().pretraining();
                    int n = sftSteps(steps);
                    RunConfig rc = sftConfig(v, seed, n);
                    boolean done = complete(dir, rc);
                    if (!done && !train) {
                        return null;
                    }
                    Path init = null;
                    if (share > 0) {
                        int pn = pretrainSteps(share, steps);
                        Path pre = out(pretrainName(share), seed);
                        RunConfig prc = config(Variant.base("base"), seed, pn, List.of());
                        if (!done) {
                            pretrain(pre, prc, null, true);
                        }
                        init = pre.resolve("model");
                        out.add(stage(share >= 1 ? "pre-training (the base run, shared)" : String.format(Locale.ROOT,
                                "pre-training (%.0f%% of the steps)", 100 * share), pre, prc, pn, flopsPerStep(prc)));
                    }
                    if (!done) {
                        ensureSftData(seed);
                        Pretrainer.run(new Pretrainer.Options(dir, rc, false, true, init, 0), QUIET);
                    }
                    out.add(stage("SFT", dir, rc, n, sftFlopsPerStep(rc)));
                }
                default -> throw new IllegalStateException(v.training().name());
            }
            return out;
        }

        /** {@code runs/NAME_sSEED}. */
        private Path out(String name, int seed) {
            return this.out.resolve("runs").resolve(name + "_s" + seed);
        }

        /** Trains a pre-training run unless it is finished with this config; false when unfinished and not trained. */
        private boolean pretrain(Path dir, RunConfig rc, Path init, boolean train) {
            if (complete(dir, rc)) {
                return true;
            }
            if (!train) {
                return false;
            }
            Pretrainer.run(new Pretrainer.Options(dir, rc, false, true, init, 0), QUIET);
            return true;
        }

        private Stage stage(String name, Path dir, RunConfig rc, int steps, double flopsPerStep) {
            return new Stage(name, dir, steps, steps * tokensPerStep(rc), "tokens", trainSeconds(dir),
                    flopsPerStep * steps);
        }

        private RunRecord record(Study s, Variant v, int seed, Path dir, Plan plan, boolean reused,
                                 AblationEval.Result eval, List<Stage> stages) {
            Map<String, Long> counts = ParamCount.all(modelConfig(dir));
            long steps = 0;
            long tokens = 0;
            double seconds = 0;
            double flops = 0;
            for (Stage st : stages) {
                if (st.units().equals("tokens")) {
                    steps += st.steps();
                    tokens += st.count();
                }
                seconds += st.seconds();
                flops += st.flops();
            }
            return new RunRecord(s.name(), v, seed, dir, steps, tokens, seconds, counts.get("total"),
                    counts.get("active"), flops, eval, reused, stages);
        }

        private static double avg(AblationEval.Result e) {
            double s = 0;
            for (String g : AblationEval.groups()) {
                s += e.mean(g);
            }
            return s / AblationEval.groups().size();
        }

        /** A finished run whose config is the one wanted (a different one is an error, not silently reused). */
        private boolean complete(Path dir, RunConfig rc) {
            return complete(dir, rc, "model", null);
        }

        /**
         * The same for a run of another command: its output folder ({@code model}, {@code encoder}) and the
         * resource of its config defaults (null: pre-training's).
         */
        private boolean complete(Path dir, RunConfig rc, String output, String defaults) {
            Path summary = dir.resolve("summary.json");
            if (!Files.isRegularFile(summary) || !Files.isDirectory(dir.resolve(output))) {
                return false;
            }
            try {
                if (!JsonFiles.MAPPER.readTree(summary.toFile()).path("complete").asBoolean()) {
                    return false;
                }
                ObjectNode written = (ObjectNode) JsonFiles.MAPPER.readTree(dir.resolve("run.json").toFile());
                written.remove("_run");
                // a moved or copied --out: paths into it compare wherever it was when the run trained
                JsonNode saved = MovedFolder.reRooted(written, rc.tree(), out);
                // through today's defaults: a key added since (with its default value) is no difference
                String where = dir.resolve("run.json").toString();
                JsonNode had = (defaults == null ? RunConfig.ofResolved(saved, where)
                        : RunConfig.ofResolvedAgainst(RunConfig.defaults(defaults), saved, where)).tree();
                String diff = Pretrainer.firstDifference(had, rc.tree(), "");
                if (diff != null) {
                    throw new Mm1Exception(dir + ": a finished run of another configuration ('" + diff.substring(1)
                            + "' differs); use a new --out, or delete that run folder to train it again");
                }
                return true;
            } catch (IOException e) {
                return false; // unreadable: train again
            }
        }

        private static double trainSeconds(Path dir) {
            try {
                return JsonFiles.MAPPER.readTree(dir.resolve("summary.json").toFile()).path("wallSeconds").asDouble();
            } catch (IOException e) {
                return Double.NaN;
            }
        }

        /** Adds {@code data.synthetic_dir}: one synthetic world per setting, shared by the runs that use it. */
        void sharedWorld(List<String> sets, int seed) {
            RunConfig rc = RunConfig.resolve(baseFile, Map.of("train.seed", Integer.toString(seed)), sets);
            if (rc.node("data.sources").isNull()) {
                sets.add("data.synthetic_dir=" + JsonFiles.MAPPER.getNodeFactory().textNode(world(seed,
                        imageSize(rc), rc.integer("data.synthetic_images"), rc.text("data.synthetic_captions"))
                        .toString()));
            }
        }

        /** The shared synthetic world of a seed, image size, picture count and caption style. */
        Path world(int seed, int size, int images, String captions) {
            return out.resolve("shared/worlds").resolve("s" + seed + "-" + size + "px-" + images + "-" + captions);
        }

        /** The shared plain world of a seed at an image size, written when missing. */
        private Path ensureWorld(int seed, int size) {
            Path world = world(seed, size, base.integer("data.synthetic_images"), "plain");
            RunData.ensureSynthetic(world, base.integer("data.synthetic_images"), size, seed,
                    SynthWriter.CaptionStyle.PLAIN);
            return world;
        }

        /**
         * Scores a run on the held-out split of the plain world at {@code size}; SFT models through the chat
         * template they were fine-tuned with (as MM1 evaluates its -Chat models), pre-trained ones with MM1's
         * few-shot layout.
         */
        private AblationEval.Result evaluate(Path runDir, int seed, int size, boolean chat) {
            Path world = ensureWorld(seed, size);
            try (NDManager root = Engines.newRootManager(seed);
                 Mm1Model model = Mm1Model.load(runDir.resolve("model"), root, DataType.FLOAT32);
                 Tokenizer tok = Tokenizer.load(runDir.resolve("model/tokenizer.json"))) {
                return AblationEval.run(model, tok, world, runDir, o.evalItems(), o.textDocs(), seed,
                        chat ? ChatTemplate.forModel(runDir.resolve("model"), tok) : null);
            }
        }

        private AblationEval.Result evaluate(Path runDir, int seed, int size) {
            return evaluate(runDir, seed, size, false);
        }

        /** The picture size a variant is scored at: the SFT world's for SFT, else its pre-training world's. */
        private int evalSize(Variant v) {
            return v.training() == Training.SFT ? sftSize() : imageSize(config(v, 0, 1, v.training()
                    == Training.UPCYCLED ? List.of(moeSet()) : List.of()));
        }

        // ---------------------------------------------------------------- encoder stage

        /**
         * The {@code mm1 clip} config of an encoder stage: the base's encoder ({@code model.preset} +
         * {@code model.vision}) trained with the variant's objective on the image-text pairs the MLLM trains on (the
         * shared world's train captions, or the pair sources of {@code --data}), {@link #ENCODER_BATCH} pairs a step.
         */
        RunConfig encoderConfig(Variant v, int seed, int steps) {
            Map<String, String> sh = new LinkedHashMap<>();
            sh.put("objective", q(v.training().objective()));
            sh.put("train.steps", Integer.toString(steps));
            sh.put("train.seed", Integer.toString(seed));
            JsonNode vision = base.node("model.vision");
            List<String> sets = new ArrayList<>(List.of("model.preset=" + q(base.text("model.preset")),
                    "model.vision=" + (vision.isObject() ? vision.toString() : "null"),
                    "data.sources=" + pairSources(seed), "train.batch_size=" + ENCODER_BATCH,
                    "train.eval_interval=" + steps, "train.eval_pairs=" + ENCODER_EVAL_PAIRS,
                    "train.checkpoint_interval=0", "train.keep_checkpoints=1",
                    "optim.warmup_steps=" + Math.max(1, steps / 10)));
            return EncoderPretrainer.config(null, sh, sets);
        }

        /** The image-text pairs of the encoder stage, as {@code data.sources} JSON. */
        private String pairSources(int seed) {
            if (o.data() == null) {
                Path w = world(seed, imageSize(base), base.integer("data.synthetic_images"), "plain");
                return "[{\"name\":\"captions\",\"format\":\"coco\",\"path\":" + q(w.resolve("coco/captions_train.json"))
                        + ",\"images\":" + q(w.resolve("images/train")) + "}]";
            }
            com.fasterxml.jackson.databind.node.ArrayNode pairs = JsonFiles.MAPPER.createArrayNode();
            for (JsonNode src : base.node("data.sources")) {
                if (PAIR_FORMATS.contains(src.path("format").asText())) {
                    pairs.add(src);
                }
            }
            return pairs.toString();
        }

        // ---------------------------------------------------------------- SFT stage

        /** The SFT world's picture size: {@link #SFT_SIZE_FACTOR} × the base encoder's resolution. */
        private int sftSize() {
            return SFT_SIZE_FACTOR * imageSize(base);
        }

        /** The SFT conversations of a seed: the plain world at {@link #sftSize}, its turns shuffled per picture. */
        private Path sftConversations(int seed) {
            return out.resolve("shared/sft").resolve("s" + seed + "-" + sftSize() + "px-"
                    + base.integer("data.synthetic_images") + ".json");
        }

        private void ensureSftData(int seed) {
            Path world = ensureWorld(seed, sftSize());
            SftConversations.ensure(world.resolve("llava/train.json"), sftConversations(seed), seed);
        }

        /** The SFT run of a variant: {@code mm1 sft}'s defaults, the base model and batch, the variant's input. */
        RunConfig sftConfig(Variant v, int seed, int steps) {
            Path world = world(seed, sftSize(), base.integer("data.synthetic_images"), "plain");
            List<String> sets = new ArrayList<>(List.of(
                    "data.sources=[{\"name\":\"sft\",\"format\":\"llava\",\"path\":" + q(sftConversations(seed))
                            + ",\"images\":" + q(world.resolve("images/train")) + "}]"));
            return sftRun(v, seed, steps, sets);
        }

        /** {@link #sftConfig} without its data, for the cost estimate before any world exists. */
        RunConfig sftShape(Variant v) {
            return sftRun(v, 0, 1, new ArrayList<>());
        }

        private RunConfig sftRun(Variant v, int seed, int steps, List<String> sets) {
            // mm1 sft's defaults (AdaFactor, no weight decay, …) over the base file, which spells out every key
            leaves(RunConfig.defaults(SFT_DEFAULTS), "", sets);
            sets.add("tokenizer=" + q(tokenizer));
            sets.add("optim.lr=" + SFT_LR);
            sets.add("optim.warmup_steps=" + Math.max(1, steps / 10));
            sets.add("train.eval_interval=" + steps);
            sets.add("train.log_interval=" + Math.max(1, steps / 10));
            sets.add("train.checkpoint_interval=0");
            sets.addAll(v.sft().sets());
            if (v.sft().crop() > 0) {
                VisionConfig vc = RunModels.build(base, VOCAB, "crop").vision();
                int crop = (int) Math.round(vc.imageSize() * v.sft().crop() / vc.patchSize()) * vc.patchSize();
                sets.add("model.high_res.crop=" + crop);
            }
            sets.add("train.steps=" + steps);
            sets.add("train.seed=" + seed);
            return RunConfig.resolve(RunConfig.defaults(SFT_DEFAULTS), baseFile, Map.of(), sets);
        }

        /** {@code key=value} of every leaf of {@code node}. */
        private static void leaves(JsonNode node, String prefix, List<String> sets) {
            node.fields().forEachRemaining(e -> {
                if (e.getValue().isObject()) {
                    leaves(e.getValue(), prefix + e.getKey() + ".", sets);
                } else {
                    sets.add(prefix + e.getKey() + "=" + e.getValue());
                }
            });
        }

        private LrSweep.Result lrSweep(Plan plan) {
            l.line("lr: delegating to lr-sweep (sizes 2x32, 2x64, held out 2x48; " + plan.steps() + " steps, "
                    + o.seeds() + " seed(s)) → " + out.resolve("lr-sweep"));
            Path dir = out.resolve("lr-sweep");
            // the ablation's own sweep: resumed with the ablation; anything else in its folder (a sweep killed
            // before its marker was written) belongs to the ablation and is replaced
            boolean resume = LrSweep.isSweep(dir);
            LrSweep.Options lo = new LrSweep.Options(dir, List.of(LrSweep.Size.parse("2x32"),
                    LrSweep.Size.parse("2x64")), LrSweep.Size.parse("2x48"), null, plan.steps(), o.seeds(), 8, 128,
                    null, List.of(), !resume && !OutputDir.isEmptyOrAbsent(dir), resume);
            return LrSweep.run(lo, (name, p, reused) -> l.line(String.format(Locale.ROOT,
                    "lr/%-24s val loss %.4f  %5.1f s%s", name, p.valLoss(), p.seconds(), reused ? "  (reused)" : "")));
        }

        /**
         * Whether a variant can run on this data: synthetic-world settings need the synthetic world, an encoder stage
         * needs image-text pairs.
         */
        private boolean applicable(Variant v) {
            if (o.data() == null) {
                return true;
            }
            if (v.training().objective() != null) {
                return pairSources(0).length() > 2;
            }
            return v.sets().stream().noneMatch(x -> x.startsWith("data.synthetic_"));
        }

        private static String why(Variant v) {
            if (v.training().objective() != null) {
                return "its encoder pre-trains on image-text pairs and --data lists none (formats "
                        + String.join(", ", PAIR_FORMATS) + ")";
            }
            return "it changes the synthetic world (" + String.join(" ", v.sets()) + ") and --data trains on "
                    + "other datasets";
        }

        private Mm1Config modelConfig(Path dir) {
            try {
                return io.mm1j.config.Presets.read(dir.resolve("model/config.json"));
            } catch (Mm1Exception e) {
                throw new Mm1Exception(dir + ": " + e.getMessage(), e);
            }
        }
    }

    // -------------------------------------------------------------------- helpers

    /** MoE settings of the upcycled model (the upcycler's: copies of the dense FFN, top-2). */
    static String moeSet() {
        return "model.moe={\"numExperts\":" + EXPERTS + ",\"topK\":2,\"every\":" + EVERY + ",\"expertIntermediate\":0,"
                + "\"balanceCoef\":0.01,\"zLossCoef\":0.001,\"capacityFactor\":0}";
    }

    /** Formats of image-text pairs an encoder stage reads. */
    static final List<String> PAIR_FORMATS = List.of("coco", "wds");
    /** {@code mm1 sft}'s config defaults. */
    static final String SFT_DEFAULTS = "/train/sft-defaults.json";
    /** Encoder-stage steps per pre-training step and SFT steps per pre-training step, for sizing. */
    static final double ENCODER_STEP_RATIO = 1.0;
    static final double SFT_STEP_RATIO = 0.5;

    /** The run folder name of a share of pre-training ({@code base} for all of it). */
    static String pretrainName(double share) {
        return share >= 1 ? "base" : String.format(Locale.ROOT, "pretrain-%.0fpct", 100 * share);
    }

    static long tokensPerStep(RunConfig rc) {
        return (long) rc.integer("train.batch_size") * rc.integer("train.grad_accum") * rc.integer("data.seq_len");
    }

    static int imageSize(RunConfig rc) {
        return RunModels.build(rc, VOCAB, "size").vision().imageSize();
    }

    /**
     * Training FLOPs of one step (6 per parameter per token, PaLM's rule): the LLM's active matmul parameters over
     * every token, the ViT and connector over the patches of the images a step holds (estimated as one image per
     * k + 16 tokens — a picture and its caption — at most {@code data.max_images} per row).
     */
    static double flopsPerStep(RunConfig rc) {
        return flopsPerStep(rc, 1, 0, 16);
    }

    /**
     * {@link #flopsPerStep(RunConfig)} of an SFT step: with {@code model.high_res} on, each picture costs its
     * sub-images (+ overview) encoder passes at the crop's patch count and as many k-token groups; a conversation
     * is assumed to hold {@link #SFT_TEXT_TOKENS} text tokens per picture.
     */
    static double sftFlopsPerStep(RunConfig rc) {
        JsonNode hr = rc.node("model.high_res");
        if (!hr.path("enabled").asBoolean(false)) {
            return flopsPerStep(rc, 1, 0, SFT_TEXT_TOKENS);
        }
        io.mm1j.config.VisionConfig v = RunModels.build(rc, VOCAB, "flops").vision();
        int crop = hr.path("crop").isNumber() ? hr.path("crop").asInt() : v.imageSize();
        int side = crop / v.patchSize();
        int per = hr.path("rows").asInt() * hr.path("cols").asInt() + (hr.path("overview").asBoolean() ? 1 : 0);
        return flopsPerStep(rc, per, side * side, SFT_TEXT_TOKENS);
    }

    /**
     * Training FLOPs of one encoder-stage step (6 per parameter per token): the ViT over every picture's patches
     * (and CLS), plus CLIP's text tower over each caption's context or AIM's prediction head over the patches.
     */
    static double encoderFlopsPerStep(RunConfig enc, io.mm1j.config.VisionConfig v) {
        double b = enc.integer("train.batch_size");
        double f = 6 * ParamCount.vision(v) * (v.numPatches() + 1) * b;
        if (enc.text("objective").equals("clip")) {
            double w = enc.integer("model.text.width");
            double layer = 4 * w * w + 2 * w * enc.integer("model.text.mlp_dim");
            f += 6 * enc.integer("model.text.layers") * layer * enc.integer("model.text.context") * b;
        } else {
            double h = enc.integer("model.aim_head_dim");
            f += 6 * (v.width() * h + h * 3.0 * v.patchSize() * v.patchSize()) * v.numPatches() * b;
        }
        return f;
    }

    /**
     * @param perPicture     encoder passes (and k-token groups) per picture
     * @param patches        patches per pass (0: the encoder's own)
     * @param textPerPicture text tokens assumed beside each picture
     */
    static double flopsPerStep(RunConfig rc, int perPicture, int patches, int textPerPicture) {
        Mm1Config c = RunModels.build(rc, VOCAB, "flops");
        ParamCount.Llm llm = ParamCount.llm(c.llm());
        double matmul = (llm.active() - llm.embedding()) + (double) c.llm().vocabSize() * c.llm().hiddenSize();
        long tokens = tokensPerStep(rc);
        double f = 6 * matmul * tokens;
        if (c.isMultimodal()) {
            // the mlp connector keeps every patch (its k follows the crop's grid, Connectors.forGrid)
            int perPass = patches > 0 && c.connector().type() == io.mm1j.config.ConnectorType.MLP ? patches
                    : c.connector().imageTokens();
            int k = perPass * perPicture;
            double perRow = Math.min(rc.integer("data.max_images"), (double) rc.integer("data.seq_len")
                    / (k + textPerPicture));
            double images = perRow * rc.integer("train.batch_size") * rc.integer("train.grad_accum");
            double vis = ParamCount.vision(c.vision()) + ParamCount.connector(c.connector(), c.vision(),
                    c.llm().hiddenSize());
            f += 6 * vis * (patches > 0 ? patches : c.vision().numPatches()) * perPicture * images;
        }
        return f;
    }

    /** The JSON of {@code data.sources} for {@code --data}: a sources list file, or a {@code mm1 data synth} folder. */
    static String sourcesOf(Path data) {
        if (Files.isDirectory(data)) {
            if (!Files.isRegularFile(data.resolve("manifest.json"))) {
                throw new Mm1Exception("--data " + data + ": a folder must be one written by 'mm1 data synth' "
                        + "(manifest.json missing); list other datasets in a JSON file of data.sources entries");
            }
            Path d = data.toAbsolutePath().normalize();
            return "[{\"name\":\"interleaved\",\"format\":\"mmc4\",\"path\":" + q(d.resolve("interleaved/train.jsonl"))
                    + ",\"images\":" + q(d.resolve("interleaved/images/train")) + ",\"weight\":0.45},"
                    + "{\"name\":\"captions\",\"format\":\"coco\",\"path\":" + q(d.resolve("coco/captions_train.json"))
                    + ",\"images\":" + q(d.resolve("images/train")) + ",\"weight\":0.45},"
                    + "{\"name\":\"text\",\"format\":\"text\",\"path\":" + q(d.resolve("text/train.txt"))
                    + ",\"weight\":0.1}]";
        }
        if (!Files.isRegularFile(data)) {
            throw new Mm1Exception("--data " + data + ": not found");
        }
        try {
            JsonNode n = JsonFiles.MAPPER.readTree(data.toFile());
            if (!n.isArray() || n.isEmpty()) {
                throw new Mm1Exception("--data " + data + ": expected a JSON list of data.sources entries "
                        + "({\"format\": …, \"path\": …, \"images\": …, \"weight\": …})");
            }
            return n.toString();
        } catch (IOException e) {
            throw new Mm1Exception("--data " + data + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    private static String q(Path p) {
        return q(p.toString());
    }

    private static String q(String s) {
        return JsonFiles.MAPPER.getNodeFactory().textNode(s).toString();
    }


    private static JsonNode readJson(Path f) {
        try {
            return JsonFiles.MAPPER.readTree(f.toFile());
        } catch (IOException e) {
            throw new Mm1Exception(f + ": unreadable: " + e.getMessage(), e);
        }
    }

    private static void copy(Path from, Path to) {
        try {
            Files.createDirectories(to.getParent());
            Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new Mm1Exception(to + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static void mkdirs(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Mm1Exception("--out " + dir + ": cannot create: " + e.getMessage(), e);
        }
    }

}
