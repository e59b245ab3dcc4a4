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
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.train.LrSweep;
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
     */
    public record Options(Path out, List<Study> studies, int seeds, double budgetMinutes, Path config,
                          List<String> sets, Path data, int evalItems, int textDocs, int steps, boolean reportOnly) {
        public Options {
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

    /** One finished configuration × seed in one study. */
    public record RunRecord(String study, Variant variant, int seed, Path runDir, long steps, long tokens,
                            double trainSeconds, long params, long activeParams, double flops,
                            AblationEval.Result eval, boolean reused) {}

    /** The step plan: measured on the probe, chosen once, kept on resume. */
    public record Plan(int steps, double stepSeconds, double overheadSeconds, double evalSeconds,
                       double probeSeconds, int runs, double relativeCost, double budgetMinutes,
                       double predictedMinutes) {}

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
                                prev.reused()));
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
            List<String> sets = new ArrayList<>();
            sets.add("tokenizer=" + JsonFiles.MAPPER.getNodeFactory().textNode(tokenizer.toString()));
            sets.add("optim.warmup_steps=" + Math.max(1, steps / 10));
            sets.add("train.eval_interval=" + steps);
            sets.add("train.log_interval=" + Math.max(1, steps / 10));
            sets.add("train.checkpoint_interval=0");
            sets.addAll(v.sets());
            sets.addAll(extra);
            sharedWorld(sets, seed);
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
                    Plan p = JsonFiles.MAPPER.treeToValue(JsonFiles.MAPPER.readTree(planFile.toFile()), Plan.class);
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
                Plan p = new Plan(o.steps(), Double.NaN, Double.NaN, Double.NaN, 0, countRuns(), Double.NaN,
                        o.budgetMinutes(), Double.NaN);
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
            double probeSeconds = (System.nanoTime() - t0) / 1e9;
            double[] costs = relativeCosts();
            double[] fixed = new double[costs.length];
            double cost = 0;
            double fixedTotal = 0;
            for (int i = 0; i < costs.length; i++) {
                // lr sub-runs: text-only, no few-shot evaluation; start-up measured about 10 s each on a busy machine
                fixed[i] = costs[i] == LR_RUN_COST ? LR_RUN_FIXED_SECONDS : overhead + evalSeconds;
                cost += costs[i];
                fixedTotal += fixed[i];
            }
            int steps = o.steps() > 0 ? o.steps() : sizeSteps(o.budgetMinutes() * 60, probeSeconds, stepSeconds,
                    fixed, costs, MIN_STEPS);
            double predicted = (probeSeconds + fixedTotal + steps * stepSeconds * cost) / 60;
            Plan p = new Plan(steps, stepSeconds, overhead, evalSeconds, probeSeconds, costs.length, cost,
                    o.budgetMinutes(), predicted);
            AtomicFiles.writeString(planFile, JsonFiles.MAPPER.valueToTree(p).toPrettyString());
            return p;
        }

        /** Relative step cost of every distinct run the selected studies need (lr sub-runs included). */
        private double[] relativeCosts() {
            List<Double> costs = new ArrayList<>();
            double baseFlops = flopsPerStep(config(Variant.base("base"), 0, 1, List.of()));
            List<String> seen = new ArrayList<>();
            for (Study s : o.studies()) {
                if (s.name().equals("lr")) {
                    for (int i = 0; i < 3 * LR_RUNS_PER_SIZE * o.seeds(); i++) {
                        costs.add(LR_RUN_COST);
                    }
                    continue;
                }
                for (Variant v : s.variants()) {
                    if (seen.contains(v.id()) || !applicable(v)) {
                        continue;
                    }
                    seen.add(v.id());
                    double f = v.training() == Training.UPCYCLED
                            ? (baseFlops + flopsPerStep(config(v, 0, 1, List.of(moeSet())))) / 2
                            : flopsPerStep(config(v, 0, 1, List.of()));
                    for (int seed = 0; seed < o.seeds(); seed++) {
                        costs.add(Math.max(0.3, f / baseFlops));
                    }
                }
            }
            return costs.stream().mapToDouble(Double::doubleValue).toArray();
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
            Path dir = out.resolve("runs").resolve(v.id() + "_s" + seed);
            RunConfig rc = v.training() == Training.UPCYCLED ? config(v, seed, plan.steps() - plan.steps() / 2,
                    List.of(moeSet())) : config(v, seed, plan.steps(), List.of());
            AblationEval.Result eval = AblationEval.saved(dir, o.evalItems(), o.textDocs());
            if (eval == null || !complete(dir, rc)) {
                return null;
            }
            return record(s, v, seed, dir, rc, plan, true, eval);
        }

        private RunRecord runOne(Study s, Variant v, int seed, Plan plan, int index, int total) {
            Path dir = out.resolve("runs").resolve(v.id() + "_s" + seed);
            String name = String.format(Locale.ROOT, "[%d/%d] %s/%s seed %d", index, total, s.name(), v.id(), seed);
            RunConfig rc = v.training() == Training.UPCYCLED ? config(v, seed, plan.steps() - plan.steps() / 2,
                    List.of(moeSet())) : config(v, seed, plan.steps(), List.of());
            boolean reused = complete(dir, rc);
            double trainSeconds;
            if (reused) {
                trainSeconds = trainSeconds(dir) + (v.training() == Training.UPCYCLED
                        ? trainSeconds(dir.resolveSibling(dir.getFileName() + "-dense")) : 0);
                l.line(name + ": trained before (reused)");
            } else {
                l.line(name + ": training " + plan.steps() + " steps …");
                long t0 = System.nanoTime();
                if (v.training() == Training.UPCYCLED) {
                    Path dense = dir.resolveSibling(dir.getFileName() + "-dense");
                    Path upcycled = dir.resolveSibling(dir.getFileName() + "-upcycled");
                    RunConfig d = config(Variant.base("dense"), seed, plan.steps() / 2, List.of());
                    if (!complete(dense, d)) {
                        Pretrainer.run(new Pretrainer.Options(dense, d, false, true, null, 0), QUIET);
                    }
                    Upcycle.run(dense.resolve("model"), EXPERTS, EVERY, upcycled, true, seed);
                    Pretrainer.run(new Pretrainer.Options(dir, rc, false, true, upcycled, 0), QUIET);
                } else {
                    Pretrainer.run(new Pretrainer.Options(dir, rc, false, true, null, 0), QUIET);
                }
                trainSeconds = (System.nanoTime() - t0) / 1e9;
            }
            AblationEval.Result eval = AblationEval.saved(dir, o.evalItems(), o.textDocs());
            boolean evalReused = eval != null;
            if (eval == null) {
                eval = evaluate(dir, seed, imageSize(rc));
            }
            RunRecord r = record(s, v, seed, dir, rc, plan, reused && evalReused, eval);
            l.line(String.format(Locale.ROOT, "%s: %s  avg %.1f  CIDEr-D@0 %.1f  VQA@8 %.1f  text ppl %.2f  "
                    + "(train %.0f s, eval %.0f s%s)", name, reused ? "reused" : "done", avg(eval),
                    eval.mean("cider@0"), eval.mean("vqa@8"), eval.mean("text"), trainSeconds, eval.seconds(),
                    evalReused ? ", scores reused" : ""));
            return new RunRecord(r.study(), v, seed, dir, r.steps(), r.tokens(), trainSeconds, r.params(),
                    r.activeParams(), r.flops(), eval, reused && evalReused);
        }

        private RunRecord record(Study s, Variant v, int seed, Path dir, RunConfig rc, Plan plan, boolean reused,
                                 AblationEval.Result eval) {
            double trainSeconds = trainSeconds(dir) + (v.training() == Training.UPCYCLED
                    ? trainSeconds(dir.resolveSibling(dir.getFileName() + "-dense")) : 0);
            Mm1Config cfg = modelConfig(dir);
            Map<String, Long> counts = ParamCount.all(cfg);
            long steps = plan.steps();
            long tokens = steps * tokensPerStep(rc);
            double flops = v.training() == Training.UPCYCLED
                    ? (flopsPerStep(config(v, seed, 1, List.of())) * (plan.steps() / 2)
                    + flopsPerStep(rc) * (plan.steps() - plan.steps() / 2))
                    : flopsPerStep(rc) * steps;
            return new RunRecord(s.name(), v, seed, dir, steps, tokens, trainSeconds, counts.get("total"),
                    counts.get("active"), flops, eval, reused);
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
            Path summary = dir.resolve("summary.json");
            if (!Files.isRegularFile(summary) || !Files.isDirectory(dir.resolve("model"))) {
                return false;
            }
            try {
                if (!JsonFiles.MAPPER.readTree(summary.toFile()).path("complete").asBoolean()) {
                    return false;
                }
                ObjectNode saved = (ObjectNode) JsonFiles.MAPPER.readTree(dir.resolve("run.json").toFile());
                saved.remove("_run");
                // through today's defaults: a key added since (with its default value) is no difference
                JsonNode had = RunConfig.ofResolved(saved, dir.resolve("run.json").toString()).tree();
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

        private AblationEval.Result evaluate(Path runDir, int seed, int size) {
            Path world = world(seed, size, base.integer("data.synthetic_images"), "plain");
            RunData.ensureSynthetic(world, base.integer("data.synthetic_images"), size, seed,
                    SynthWriter.CaptionStyle.PLAIN);
            try (NDManager root = Engines.newRootManager(seed);
                 Mm1Model model = Mm1Model.load(runDir.resolve("model"), root, DataType.FLOAT32);
                 Tokenizer tok = Tokenizer.load(runDir.resolve("model/tokenizer.json"))) {
                return AblationEval.run(model, tok, world, runDir, o.evalItems(), o.textDocs(), seed);
            }
        }

        private LrSweep.Result lrSweep(Plan plan) {
            l.line("lr: delegating to lr-sweep (sizes 2x32, 2x64, held out 2x48; " + plan.steps() + " steps, "
                    + o.seeds() + " seed(s)) → " + out.resolve("lr-sweep"));
            LrSweep.Options lo = new LrSweep.Options(out.resolve("lr-sweep"), List.of(LrSweep.Size.parse("2x32"),
                    LrSweep.Size.parse("2x64")), LrSweep.Size.parse("2x48"), null, plan.steps(), o.seeds(), 8, 128,
                    null, List.of());
            return LrSweep.run(lo, (name, p, reused) -> l.line(String.format(Locale.ROOT,
                    "lr/%-24s val loss %.4f  %5.1f s%s", name, p.valLoss(), p.seconds(), reused ? "  (reused)" : "")));
        }

        /** Whether a variant can run on this data (synthetic-world settings need the synthetic world). */
        private boolean applicable(Variant v) {
            return o.data() == null || v.sets().stream().noneMatch(x -> x.startsWith("data.synthetic_"));
        }

        private static String why(Variant v) {
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
        Mm1Config c = RunModels.build(rc, VOCAB, "flops");
        ParamCount.Llm llm = ParamCount.llm(c.llm());
        double matmul = (llm.active() - llm.embedding()) + (double) c.llm().vocabSize() * c.llm().hiddenSize();
        long tokens = tokensPerStep(rc);
        double f = 6 * matmul * tokens;
        if (c.isMultimodal()) {
            int k = c.connector().imageTokens();
            double perRow = Math.min(rc.integer("data.max_images"), (double) rc.integer("data.seq_len") / (k + 16));
            double images = perRow * rc.integer("train.batch_size") * rc.integer("train.grad_accum");
            double vis = ParamCount.vision(c.vision()) + ParamCount.connector(c.connector(), c.vision(),
                    c.llm().hiddenSize());
            f += 6 * vis * c.vision().numPatches() * images;
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
        return JsonFiles.MAPPER.getNodeFactory().textNode(p.toString()).toString();
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
