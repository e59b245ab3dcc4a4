package io.mm1j.ablate;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.ablate.Ablation.RunRecord;
import io.mm1j.ablate.Study.Claim;
import io.mm1j.ablate.Study.Lesson;
import io.mm1j.ablate.Study.Variant;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.JsonFiles;
import io.mm1j.train.LrSweep;
import io.mm1j.train.Plots;
import io.mm1j.train.RunConfig;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code report.md}, {@code results.jsonl} and {@code plots/} of an ablation. */
public final class AblationReport {
    /** Metric name → the eval groups it averages ({@code text}: perplexity). */
    static final Map<String, List<String>> METRICS = new LinkedHashMap<>();

    static {
        for (String g : AblationEval.groups()) {
            METRICS.put(g, List.of(g));
        }
        METRICS.put("0-shot", List.of("cider@0", "vqa@0"));
        METRICS.put("few-shot", List.of("cider@4", "vqa@4", "cider@8", "vqa@8"));
        METRICS.put("avg", AblationEval.groups());
        METRICS.put("vqa", List.of("vqa@0", "vqa@4", "vqa@8"));
        METRICS.put("text", List.of("text"));
    }

    private AblationReport() {}

    /** Lower is better for perplexity; higher for every score. */
    static boolean lowerIsBetter(String metric) {
        return metric.equals("text");
    }

    /** The bootstrap input of one metric over the seeds' evaluations (seed order). */
    static Bootstrap.Scores scores(List<AblationEval.Result> seeds, String metric) {
        List<String> groups = METRICS.get(metric);
        if (groups == null) {
            throw new IllegalArgumentException("unknown metric " + metric);
        }
        int n = seeds.size();
        if (metric.equals("text")) {
            double[][][] num = new double[n][1][];
            double[][][] den = new double[n][1][];
            for (int s = 0; s < n; s++) {
                num[s][0] = seeds.get(s).textNll();
                den[s][0] = seeds.get(s).textTokens();
            }
            return new Bootstrap.Scores(num, den, Math::exp);
        }
        double[][][] x = new double[n][groups.size()][];
        for (int s = 0; s < n; s++) {
            for (int g = 0; g < groups.size(); g++) {
                x[s][g] = seeds.get(s).items().get(groups.get(g));
            }
        }
        return Bootstrap.Scores.means(x);
    }

    /** The interval of "{@code better} beats {@code worse}" on a metric, oriented so that positive favours it. */
    static Bootstrap.Interval advantage(List<AblationEval.Result> better, List<AblationEval.Result> worse,
                                        String metric, long rngSeed) {
        Bootstrap.Scores a = scores(better, metric);
        Bootstrap.Scores b = scores(worse, metric);
        return lowerIsBetter(metric) ? Bootstrap.difference(b, a, rngSeed) : Bootstrap.difference(a, b, rngSeed);
    }

    /** A claim's verdict and the intervals behind it. */
    record Judged(Claim claim, Verdict verdict, List<String> evidence) {}

    static Judged judge(Claim c, Map<String, List<AblationEval.Result>> byVariant, Map<String, String> labels,
                        long rngSeed) {
        List<String> evidence = new ArrayList<>();
        if (c.kind() == Claim.Kind.BETTER) {
            List<AblationEval.Result> a = byVariant.get(c.better());
            List<AblationEval.Result> b = byVariant.get(c.worse());
            if (a == null || b == null) {
                return new Judged(c, Verdict.INCONCLUSIVE, List.of("not judged: a configuration has no finished "
                        + "run (skipped, or not trained yet)"));
            }
            Bootstrap.Interval d = advantage(a, b, c.metric(), rngSeed);
            evidence.add(String.format(Locale.ROOT, "%s vs %s on %s: advantage %s", labels.get(c.better()),
                    labels.get(c.worse()), metricName(c.metric()), cell(d)));
            return new Judged(c, Verdict.better(d), evidence);
        }
        String[] ids = c.better().split(",");
        List<Bootstrap.Interval> pairs = new ArrayList<>();
        for (int i = 0; i < ids.length; i++) {
            for (int j = i + 1; j < ids.length; j++) {
                List<AblationEval.Result> a = byVariant.get(ids[i]);
                List<AblationEval.Result> b = byVariant.get(ids[j]);
                if (a == null || b == null) {
                    return new Judged(c, Verdict.INCONCLUSIVE, List.of("not judged: a configuration has no finished "
                        + "run (skipped, or not trained yet)"));
                }
                Bootstrap.Interval d = advantage(a, b, c.metric(), rngSeed + 31L * i + j);
                pairs.add(d);
                evidence.add(String.format(Locale.ROOT, "%s − %s on %s: %s", labels.get(ids[i]), labels.get(ids[j]),
                        metricName(c.metric()), cell(d)));
            }
        }
        // differences within ±margin say nothing when no configuration scores above the margin itself
        Bootstrap.Interval best = null;
        for (String id : ids) {
            Bootstrap.Interval i = Bootstrap.interval(scores(byVariant.get(id), c.metric()), rngSeed + 7);
            best = best == null || i.lo() > best.lo() ? i : best;
        }
        if (!best.above(Studies.SAME_MARGIN)) {
            evidence.add(String.format(Locale.ROOT, "no configuration's %s interval lies above %.1f (best %s): "
                    + "too little learned to tell whether the type matters", metricName(c.metric()),
                    Studies.SAME_MARGIN, cell(best)));
            return new Judged(c, Verdict.INCONCLUSIVE, evidence);
        }
        return new Judged(c, Verdict.equivalent(pairs, Studies.SAME_MARGIN), evidence);
    }

    private static String secs(double s) {
        return Double.isNaN(s) ? "— (not probed)" : String.format(Locale.ROOT, "%.2f", s);
    }

    static String metricName(String m) {
        return switch (m) {
            case "avg" -> "the averaged 0/4/8-shot score";
            case "0-shot" -> "the 0-shot score";
            case "few-shot" -> "the 4/8-shot score";
            case "vqa" -> "VQA accuracy over 0/4/8 shots";
            case "text" -> "text perplexity (lower is better; advantage = the other's minus its)";
            default -> m;
        };
    }

    static String cell(Bootstrap.Interval i) {
        return String.format(Locale.ROOT, "%.2f [%.2f, %.2f]", i.mean(), i.lo(), i.hi());
    }

    /**
     * The report's first line: studies, seeds, steps per run and how they were chosen. The budget and the measured
     * step time appear only when a probe timed the base step ({@code --steps} fixes the steps without one: its plan
     * holds no step time, and a budget it never used would mislead).
     */
    static String header(Ablation.Options o, Ablation.Plan plan, RunConfig base, double load) {
        boolean timed = Double.isFinite(plan.stepSeconds());
        return String.format(Locale.ROOT, "Studies: %s · %d seed(s) · %s%d steps per run%s (%,d tokens: batch %d × "
                        + "%d tokens)%s (load average %.1f on %d cores when the report was written; the machine is "
                        + "shared; PyTorch intra-op threads: %s).\n\n",
                String.join(", ", o.studies().stream().map(Study::name).toList()), o.seeds(),
                timed ? String.format(Locale.ROOT, "budget %.0f minutes · ", o.budgetMinutes()) : "",
                plan.steps(), timed ? "" : " fixed with `--steps`",
                plan.steps() * Ablation.tokensPerStep(base), base.integer("train.batch_size"),
                base.integer("data.seq_len"), timed ? String.format(Locale.ROOT, " · %.2f s per base step measured",
                        plan.stepSeconds()) : "", load, Runtime.getRuntime().availableProcessors(),
                System.getProperty("ai.djl.pytorch.num_threads", "PyTorch's default"));
    }

    public static void write(Path out, Ablation.Options o, Ablation.Plan plan, RunConfig base, List<RunRecord> runs,
                             LrSweep.Result lr) {
        StringBuilder jsonl = new StringBuilder();
        for (RunRecord r : runs) {
            ObjectNode j = JsonFiles.MAPPER.createObjectNode();
            j.put("study", r.study()).put("variant", r.variant().id()).put("label", r.variant().label())
                    .put("seed", r.seed()).put("runDir", r.runDir().toString()).put("steps", r.steps())
                    .put("tokens", r.tokens()).put("trainSeconds", r.trainSeconds()).put("flops", r.flops())
                    .put("params", r.params()).put("activeParams", r.activeParams())
                    .put("evalSeconds", r.eval().seconds()).put("truncatedPrompts", r.eval().truncatedPrompts())
                    .put("evalItems", o.evalItems()).put("textDocuments", r.eval().textNll().length)
                    .put("reused", r.reused());
            com.fasterxml.jackson.databind.node.ArrayNode st = j.putArray("stages");
            for (Ablation.Stage x : r.stages()) {
                st.addObject().put("name", x.name()).put("runDir", x.dir().toString()).put("steps", x.steps())
                        .put(x.units().equals("tokens") ? "tokens" : "pairs", x.count()).put("seconds", x.seconds())
                        .put("flops", x.flops());
            }
            ObjectNode m = j.putObject("metrics");
            for (String g : AblationEval.groups()) {
                m.put(g, r.eval().mean(g));
            }
            m.put("avg", Bootstrap.Scores.means(new double[][][] {groupsOf(r.eval(), AblationEval.groups())}).point());
            m.put("textPerplexity", r.eval().mean("text"));
            jsonl.append(j).append('\n');
        }
        AtomicFiles.writeString(out.resolve("results.jsonl"), jsonl.toString());

        StringBuilder md = new StringBuilder();
        md.append("# MM1's ablations at laptop scale (`mm1 ablate`)\n\n");
        md.append(header(o, plan, base, ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
        if (Double.isNaN(plan.stepSeconds())) {
            md.append("Plan (`plan.json`): steps fixed with `--steps` (no timing probe).\n\n");
        } else {
            md.append(String.format(Locale.ROOT, "Plan (`plan.json`): the probe timed %d steps of the base config "
                    + "(%.2f s/step, %.0f s start-up per run) and one evaluation (%.0f s); %d runs of relative cost %.1f "
                    + "base-run equivalents were sized to fit the budget, predicted %.0f minutes.\n\n",
                    Ablation.PROBE_STEPS, plan.stepSeconds(), plan.overheadSeconds(), plan.evalSeconds(), plan.runs(),
                    plan.relativeCost(), plan.predictedMinutes()));
            if (!Double.isNaN(plan.encoderStepSeconds()) || !Double.isNaN(plan.sftStepSeconds())) {
                md.append(String.format(Locale.ROOT, "Second stages, probed the same way (%d steps each) and sized "
                        + "with the runs: encoder stage %s s per step of %d image-text pairs (%d steps per encoder); "
                        + "SFT %s s per step at the encoder's resolution (%d steps per fine-tuned run; other SFT "
                        + "inputs scaled by their FLOPs).%n%n", Ablation.PROBE_STEPS, secs(plan.encoderStepSeconds()),
                        Ablation.ENCODER_BATCH, Ablation.encoderSteps(plan.steps()), secs(plan.sftStepSeconds()),
                        Ablation.sftSteps(plan.steps())));
            }
        }
        md.append("**Metrics.** Caption CIDEr-D ×100 (per image, PTB-tokenised, coco-caption's IDF over the eval "
                + "set) and VQA accuracy in % (VQAv2 official, 10 answers) on the synthetic world's held-out `val` "
                + "split at 0, 4 and 8 shots (MM1's interleaved few-shot prompts, demonstrations from the train "
                + "split, greedy decoding); **avg** = their mean over the six settings (MM1's averaged few-shot "
                + "metric), **0-shot** and **4/8-shot** the same over those settings; **text** = perplexity on "
                + "held-out text documents with one shared BPE tokenizer (lower is better). Eval set per seed: "
                + o.evalItems() + " captions and " + o.evalItems() + " questions per shot setting, " + o.textDocs()
                + " text documents.\n\n");
        if (o.data() != null) {
            md.append("**Data.** Pre-training (and the encoder stage) read `--data ").append(o.data()).append("`; "
                    + "evaluation stays on the synthetic world's held-out split (the real data brings no held-out "
                    + "VQA or interleaved few-shot split here), and the SFT studies fine-tune on the synthetic "
                    + "world's conversations.\n\n");
        }
        md.append("**Rule.** ").append(Verdict.rule(Studies.SAME_MARGIN)).append("\n\n");

        Map<String, List<RunRecord>> byStudy = new LinkedHashMap<>();
        runs.forEach(r -> byStudy.computeIfAbsent(r.study(), k -> new ArrayList<>()).add(r));
        StringBuilder summary = new StringBuilder("## Lessons\n\n| study | MM1's lesson | tested here | verdict |\n"
                + "|---|---|---|---|\n");
        StringBuilder body = new StringBuilder();
        long rng = 20240314;
        for (Study s : o.studies()) {
            if (s.name().equals("lr")) {
                lrSection(s, lr, summary, body);
                continue;
            }
            List<RunRecord> rs = byStudy.getOrDefault(s.name(), List.of());
            Map<String, List<AblationEval.Result>> byVariant = new LinkedHashMap<>();
            Map<String, List<RunRecord>> recs = new LinkedHashMap<>();
            Map<String, String> labels = new LinkedHashMap<>();
            for (Variant v : s.variants()) {
                labels.put(v.id(), v.label());
            }
            for (RunRecord r : rs) {
                byVariant.computeIfAbsent(r.variant().id(), k -> new ArrayList<>()).add(r.eval());
                recs.computeIfAbsent(r.variant().id(), k -> new ArrayList<>()).add(r);
            }
            body.append("## ").append(s.name()).append("\n\n").append(capital(s.question())).append(".\n\n");
            body.append("| configuration | seeds | CIDEr-D 0-shot | 4-shot | 8-shot | VQA 0-shot | 4-shot | 8-shot | avg "
                    + "| text ppl | params (active) | train s/run |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            List<String> cats = new ArrayList<>();
            Map<String, double[]> bars = new LinkedHashMap<>();
            Map<String, double[]> errs = new LinkedHashMap<>();
            List<String> barMetrics = List.of("0-shot", "few-shot", "avg");
            for (String bm : barMetrics) {
                bars.put(bm, new double[byVariant.size()]);
                errs.put(bm, new double[byVariant.size()]);
            }
            double[] ppl = new double[byVariant.size()];
            double[] pplErr = new double[byVariant.size()];
            int col = 0;
            for (Map.Entry<String, List<AblationEval.Result>> e : byVariant.entrySet()) {
                RunRecord first = recs.get(e.getKey()).get(0);
                body.append("| ").append(labels.get(e.getKey())).append(" | ").append(e.getValue().size());
                for (String g : List.of("cider@0", "cider@4", "cider@8", "vqa@0", "vqa@4", "vqa@8", "avg", "text")) {
                    body.append(" | ").append(cell(Bootstrap.interval(scores(e.getValue(), g), rng++)));
                }
                double secs = recs.get(e.getKey()).stream().mapToDouble(RunRecord::trainSeconds).average()
                        .orElse(Double.NaN);
                body.append(String.format(Locale.ROOT, " | %.2fM (%.2fM) | %.0f |%n", first.params() / 1e6,
                        first.activeParams() / 1e6, secs));
                cats.add(labels.get(e.getKey()));
                for (String bm : barMetrics) {
                    Bootstrap.Interval i = Bootstrap.interval(scores(e.getValue(), bm), rng++);
                    bars.get(bm)[col] = i.mean();
                    errs.get(bm)[col] = (i.hi() - i.lo()) / 2;
                }
                Bootstrap.Interval t = Bootstrap.interval(scores(e.getValue(), "text"), rng++);
                ppl[col] = t.mean();
                pplErr[col] = (t.hi() - t.lo()) / 2;
                col++;
            }
            if (!rs.isEmpty()) {
                RunRecord r0 = rs.get(0);
                boolean staged = rs.stream().anyMatch(r -> r.stages().size() > 1 || s.fineTunes());
                body.append(String.format(Locale.ROOT, "%nEval set: up to %d seed(s) × (%d captions + %d questions) per "
                                + "shot setting, %d text documents per seed. ", e(byVariant).size(),
                        e(byVariant).get(0).items().get("cider@0").length,
                        e(byVariant).get(0).items().get("vqa@0").length, e(byVariant).get(0).textNll().length));
                if (staged) {
                    body.append("Compute: per stage below (FLOPs: 6·params·tokens, ViT over each step's pictures and "
                            + "sub-images; the encoder stage: ViT over every picture plus CLIP's text tower or AIM's "
                            + "head).\n\n").append(stageTable(rs, labels));
                } else {
                    body.append(String.format(Locale.ROOT, "Compute per run: %d steps, %,d tokens, about %.3g TFLOP "
                            + "(6·params·tokens, ViT over each step's pictures; upcycled MoE: the dense half plus the "
                            + "MoE half).%n%n", r0.steps(), r0.tokens(), r0.flops() / 1e12));
                }
                if (s.fineTunes()) {
                    body.append(String.format(Locale.ROOT, "SFT: `mm1 sft`'s recipe (AdaFactor, cosine, loss on the "
                            + "assistant turns) at LR %.0e, the base batch and sequence length, on the synthetic "
                            + "world's conversations (questions about each picture, their order shuffled per picture) "
                            + "drawn at %d× the encoder's resolution; scored like MM1's -Chat models, through the chat "
                            + "template (0/4/8-shot: demonstrations as earlier turns; captions asked for with a fixed "
                            + "instruction — the SFT data holds no captions, so CIDEr-D after SFT measures little).%n%n",
                            Ablation.SFT_LR, Ablation.SFT_SIZE_FACTOR));
                }
                Plots.bars(out.resolve("plots/" + s.name() + ".png"), s.name() + ": caption CIDEr-D ×100 and VQA % "
                        + "averaged (error bars: half the 95% interval)", "score", cats, bars, errs);
                Plots.bars(out.resolve("plots/" + s.name() + "-text.png"), s.name() + ": text perplexity (lower is "
                        + "better)", "perplexity", cats, Map.of("text perplexity", ppl), Map.of("text perplexity",
                        pplErr));
                body.append("![").append(s.name()).append("](plots/").append(s.name()).append(".png)\n\n");
            }
            for (Lesson lesson : s.lessons()) {
                List<Verdict> vs = new ArrayList<>();
                body.append("**MM1:** ").append(lesson.mm1()).append("  \n**Tested here:** ")
                        .append(lesson.analogue()).append("  \n");
                for (Claim c : lesson.claims()) {
                    Judged j = judge(c, byVariant, labels, rng++);
                    vs.add(j.verdict());
                    for (String ev : j.evidence()) {
                        body.append("- ").append(ev).append(" → ").append(j.verdict().words()).append("\n");
                    }
                }
                Verdict v = Verdict.all(vs);
                body.append("\n**Verdict: ").append(v.words()).append("**\n\n");
                summary.append("| ").append(s.name()).append(" | ").append(lesson.mm1()).append(" | ")
                        .append(lesson.analogue()).append(" | **").append(v.words()).append("** |\n");
            }
        }
        md.append(summary).append("\n").append(body);
        md.append("Every run: `results.jsonl` (means, compute, run folder); per-item scores and generated samples: "
                + "each run folder's `ablate-eval.json` and `ablate-eval/`.\n");
        AtomicFiles.writeString(out.resolve("report.md"), md.toString());
    }

    /** Compute per stage of each configuration (first seed; the other seeds' runs are the same size). */
    static String stageTable(List<RunRecord> rs, Map<String, String> labels) {
        StringBuilder b = new StringBuilder("Compute per stage (seed 0 shown; time: wall seconds of that run):\n\n"
                + "| configuration | stage | steps | data | TFLOP | train s | run folder |\n|---|---|---|---|---|---|---|\n");
        List<String> seen = new ArrayList<>();
        for (RunRecord r : rs) {
            if (seen.contains(r.variant().id())) {
                continue;
            }
            seen.add(r.variant().id());
            for (Ablation.Stage st : r.stages()) {
                b.append(String.format(Locale.ROOT, "| %s | %s | %d | %,d %s | %.3g | %.0f | `%s` |%n",
                        labels.get(r.variant().id()), st.name(), st.steps(), st.count(), st.units(), st.flops() / 1e12,
                        st.seconds(), st.dir().getParent().getFileName() + "/" + st.dir().getFileName()));
            }
        }
        return b.append('\n').toString();
    }

    private static List<AblationEval.Result> e(Map<String, List<AblationEval.Result>> byVariant) {
        return byVariant.values().iterator().next();
    }

    private static double[][] groupsOf(AblationEval.Result r, List<String> groups) {
        double[][] x = new double[groups.size()][];
        for (int g = 0; g < groups.size(); g++) {
            x[g] = r.items().get(groups.get(g));
        }
        return x;
    }

    private static void lrSection(Study s, LrSweep.Result lr, StringBuilder summary, StringBuilder body) {
        Lesson lesson = s.lessons().get(0);
        body.append("## lr\n\n").append(capital(s.question())).append(".\n\n");
        if (lr == null) {
            body.append("Not run in this session (`--report-only`, or stopped before it); an earlier sweep's own "
                    + "report, if any: `lr-sweep/report.md`.\n\n");
            summary.append("| lr | ").append(lesson.mm1()).append(" | ").append(lesson.analogue())
                    .append(" | not run |\n");
            return;
        }
        body.append("| size | non-embedding N | best LR | bracketed |\n|---|---|---|---|\n");
        boolean bracketed = true;
        List<LrSweep.SizeResult> all = new ArrayList<>(lr.fitted());
        if (lr.heldOut() != null) {
            all.add(lr.heldOut());
        }
        for (LrSweep.SizeResult r : all) {
            bracketed &= r.best().bracketed();
            body.append(String.format(Locale.ROOT, "| %s%s | %,d | %.3e | %s |%n", r.size().name(),
                    r == lr.heldOut() ? " (held out)" : "", r.nonEmbedding(), r.best().lr(),
                    r.best().bracketed() ? "yes" : "no (at the grid's end)"));
        }
        Verdict v = !bracketed || lr.heldOut() == null ? Verdict.INCONCLUSIVE
                : lr.heldOutWithinTolerance() ? Verdict.REPRODUCED : Verdict.NOT_REPRODUCED;
        if (!lr.lawFitted()) {
            body.append("\nLaw not fitted: ").append(lr.lawNotFitted()).append(".\n\n");
        } else {
            body.append(String.format(Locale.ROOT, "%nFitted: ln η = %.3f·ln N %+.3f (MM1: −0.4214·ln N − 0.5535). "
                            + "Held-out size: predicted %.3e, measured %.3e (×%.2f).%n%n", lr.law().slope(),
                    lr.law().intercept(), lr.predictedLr(),
                    lr.heldOut() == null ? Double.NaN : lr.heldOut().best().lr(), lr.heldOutRatio()));
        }
        body.append("**MM1:** ").append(lesson.mm1()).append("  \n**Tested here:** ").append(lesson.analogue())
                .append(" (rule: within ×").append(LrSweep.TOLERANCE).append(" → reproduced, outside → not "
                        + "reproduced, an optimum at a grid end → inconclusive). Details: `lr-sweep/report.md`.\n\n")
                .append("**Verdict: ").append(v.words()).append("**\n\n");
        summary.append("| lr | ").append(lesson.mm1()).append(" | ").append(lesson.analogue()).append(" | **")
                .append(v.words()).append("** |\n");
    }

    private static String capital(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
