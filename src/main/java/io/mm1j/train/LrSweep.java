package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.data.SynthWriter;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.OutputDir;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * {@code mm1 lr-sweep}: MM1's peak-LR scaling law (MM1 §3.3, MM1_SPEC.md §2) re-measured on small text-only Llamas.
 * For each model size, short {@link Pretrainer} runs over a grid of peak LRs (neighbours √2 apart) and seeds; the
 * best LR of a size is the vertex of a parabola of final validation loss in ln(LR) around the grid minimum
 * ({@link LogLinearFit#bestLr}); {@code ln η = a·ln N + b} is fitted through the sizes' optima (N = non-embedding
 * parameters), and a held-out size checks the fitted law's prediction.
 *
 * <p>Without {@code lrs}, each size's grid is adaptive: five half-powers of two centred on a guess (MM1's law for
 * the first size, then the previous optimum scaled by MM1's slope, then the fitted law for the held-out size),
 * extended one step at a time while the minimum sits on an end of the grid. All runs share one byte-level
 * tokenizer and one text file.
 *
 * <p>The sweep folder follows the training commands' rules ({@link Pretrainer#newRun}): a non-empty {@code --out} is
 * refused unless {@code --overwrite} (the old sweep is set aside until the new one has a finished sub-run) or
 * {@code --resume}, which continues an earlier sweep: its sub-runs with a complete {@code summary.json} and the same
 * config are reused.
 */
public final class LrSweep {
    private static final Pretrainer.Progress QUIET = Pretrainer.Progress.QUIET;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LrSweep.class);

    /** Grid steps on either side of the minimum that the parabola is fitted through. */
    static final int FIT_HALF_WIDTH = 2;
    /** How many times an adaptive grid may grow at an end before the sweep reports the minimum as unbracketed. */
    static final int MAX_EXTENSIONS = 4;
    /** Pictures of the synthetic world whose training text the sweep uses without {@code --text}. */
    static final int SYNTHETIC_IMAGES = 2000;
    /** Marks a sweep folder ({@code --resume} continues only one); holds the options it was started with. */
    static final String MARKER = "lr-sweep.json";
    /** The held-out check: the measured best LR within this factor of the prediction. */
    public static final double TOLERANCE = 1.5;

    /** A text-only Llama of {@code layers} blocks and width {@code hidden} (head size 16, SwiGLU width ≈ 8/3·d). */
    public record Size(int layers, int hidden) {
        public Size {
            if (layers < 1 || hidden < 16 || hidden % 16 != 0) {
                throw new Mm1Exception("model size " + layers + "x" + hidden + ": need >= 1 layer and a width that "
                        + "is a multiple of 16");
            }
        }

        /** "64" (2 layers) or "4x128" (layers × width). */
        public static Size parse(String s) {
            String t = s.trim().toLowerCase(Locale.ROOT);
            try {
                int x = t.indexOf('x');
                return x < 0 ? new Size(2, Integer.parseInt(t))
                        : new Size(Integer.parseInt(t.substring(0, x)), Integer.parseInt(t.substring(x + 1)));
            } catch (NumberFormatException e) {
                throw new Mm1Exception("model size '" + s + "': expected WIDTH or LAYERSxWIDTH, e.g. 64 or 4x128");
            }
        }

        public String name() {
            return layers + "x" + hidden;
        }

        int heads() {
            return hidden / 16;
        }

        /** Llama's 8/3·d rounded up to a multiple of 16. */
        int intermediate() {
            return (int) Math.ceil(8.0 * hidden / 3 / 16) * 16;
        }

        List<String> sets() {
            return List.of("model.llm.hidden_size=" + hidden, "model.llm.num_hidden_layers=" + layers,
                    "model.llm.num_attention_heads=" + heads(), "model.llm.num_key_value_heads=" + heads(),
                    "model.llm.intermediate_size=" + intermediate());
        }
    }

    /**
     * @param lrs       the LR grid for every size (sorted, neighbours at most √2 apart), or null for adaptive grids
     * @param text      a plain-text corpus, or null for the synthetic world's text (written once into the sweep)
     * @param extraSets {@code --set} overrides applied to every sub-run (after the sweep's own)
     * @param overwrite replace a non-empty {@code out}
     * @param resume    continue the sweep in {@code out}, reusing its finished sub-runs
     */
    public record Options(Path out, List<Size> sizes, Size heldOut, List<Double> lrs, int steps, int seeds,
                          int batchSize, int seqLen, Path text, List<String> extraSets, boolean overwrite,
                          boolean resume) {
        public Options {
            if (overwrite && resume) {
                throw new Mm1Exception("--overwrite replaces the sweep in --out and --resume continues it: give one "
                        + "or the other");
            }
            if (sizes.size() < 2) {
                throw new Mm1Exception("--sizes: the law ln η = a·ln N + b is a line through each size's best LR and "
                        + "needs at least 2 model sizes, got " + sizes.size());
            }
            for (int i = 0; i < sizes.size(); i++) {
                if (sizes.subList(0, i).contains(sizes.get(i))) {
                    throw new Mm1Exception("--sizes: " + sizes.get(i).name() + " is given twice");
                }
            }
            if (heldOut != null && sizes.contains(heldOut)) {
                throw new Mm1Exception("--held-out " + heldOut.name() + " is also in --sizes: the law would be fitted "
                        + "through it, so it would not be held out; choose a size outside --sizes (or --held-out "
                        + "none)");
            }
            if (steps < 1 || seeds < 1) {
                throw new Mm1Exception("--steps and --seeds must be >= 1");
            }
            if (lrs != null) {
                checkGrid(lrs);
                if (lrs.size() < 3) {
                    throw new Mm1Exception("--lrs: a size's best LR is the vertex of a parabola fitted in ln LR, "
                            + "which needs at least 3 LRs, got " + lrs.size());
                }
            }
        }
    }

    /** One sub-run's outcome. */
    public record Point(double lr, int seed, double valLoss, double seconds) {}

    /** One size: its non-embedding N, every point, and the best LR. */
    public record SizeResult(Size size, long nonEmbedding, List<Point> points, LogLinearFit.Minimum best) {
        /**
         * "low" or "high" when the lowest loss is at that end of the grid (of the LRs no seed diverged at, as
         * {@link LogLinearFit#bestLr} ranks them), null when the minimum is bracketed.
         */
        public String gridEdge() {
            if (best.bracketed()) {
                return null;
            }
            java.util.Set<Double> diverged = new java.util.HashSet<>();
            points.stream().filter(p -> !Double.isFinite(p.valLoss())).forEach(p -> diverged.add(p.lr()));
            double lowest = points.stream().mapToDouble(Point::lr).filter(lr -> !diverged.contains(lr)).min()
                    .orElse(best.gridBest());
            return best.gridBest() == lowest ? "low" : "high";
        }
    }

    /**
     * The sweep: fitted sizes, the law through them, the held-out check (null when no held-out size), and the
     * warnings about what the law rests on (also in report.md).
     */
    public record Result(List<SizeResult> fitted, LogLinearFit.Line law, SizeResult heldOut, double predictedLr,
                         double seconds, List<String> warnings) {
        /** measured / predicted best LR of the held-out size. */
        public double heldOutRatio() {
            return heldOut == null ? Double.NaN : heldOut.best().lr() / predictedLr;
        }

        public boolean heldOutWithinTolerance() {
            double r = heldOutRatio();
            return r <= TOLERANCE && r >= 1 / TOLERANCE;
        }

        /**
         * Where every fitted size's lowest loss lies when all of them are at an end of their LR grid: "low", "high"
         * or "both" (some at each end). Then no size has an interior minimum, the "best LRs" are grid ends and the
         * line through them says nothing about the law (often slope 0, r² 1): the law counts as not fitted. Null when
         * at least one size is bracketed.
         */
        public String gridEdge() {
            java.util.Set<String> edges = new java.util.TreeSet<>();
            for (SizeResult s : fitted) {
                String e = s.gridEdge();
                if (e == null) {
                    return null;
                }
                edges.add(e);
            }
            return edges.size() == 1 ? edges.iterator().next() : "both";
        }

        /** The law through the fitted sizes' optima is meaningful: not every one is a grid end. */
        public boolean lawFitted() {
            return gridEdge() == null;
        }

        /** Why the law was not fitted and what to do (report, sweep.json, CLI), or null when it was. */
        public String lawNotFitted() {
            String edge = gridEdge();
            if (edge == null) {
                return null;
            }
            String where = switch (edge) {
                case "low" -> "at the low end of its LR grid (the smallest LR tried has the lowest loss)";
                case "high" -> "at the high end of its LR grid (the largest LR tried has the lowest loss)";
                default -> "at an end of its LR grid (some sizes at the low end, some at the high end)";
            };
            String widen = switch (edge) {
                case "low" -> "towards lower LRs";
                case "high" -> "towards higher LRs";
                default -> "at both ends";
            };
            return "the best LR of every fitted size is " + where + ": no size has a minimum inside the grid, so "
                    + "the law was not fitted (a line through grid ends is not a measurement); widen --lrs " + widen
                    + " and rerun";
        }
    }

    /** What the CLI shows: one line per finished sub-run, and warnings before the first. */
    public interface Listener {
        void subRun(String name, Point p, boolean reused);

        /** A warning about the sweep's design (e.g. too few sizes for the law); logged unless overridden. */
        default void warning(String line) {
            LOG.warn(line);
        }
    }

    private LrSweep() {}

    /** Neighbouring grid LRs at most √2 apart (MM1's own grid spacing), positive and increasing. */
    static void checkGrid(List<Double> lrs) {
        if (lrs.isEmpty()) {
            throw new Mm1Exception("--lrs: empty");
        }
        for (int i = 0; i < lrs.size(); i++) {
            if (!(lrs.get(i) > 0)) {
                throw new Mm1Exception("--lrs: " + lrs.get(i) + " is not > 0");
            }
            if (i > 0 && !(lrs.get(i) > lrs.get(i - 1))) {
                throw new Mm1Exception("--lrs must be increasing");
            }
            if (i > 0 && lrs.get(i) / lrs.get(i - 1) > Math.sqrt(2) * 1.001) { // 0.1% slack for typed, rounded values
                throw new Mm1Exception(String.format(Locale.ROOT, "--lrs: %g and %g are more than √2 apart; MM1's "
                        + "sweep needs neighbours at most √2 apart", lrs.get(i - 1), lrs.get(i)));
            }
        }
    }

    /**
     * Runs the sweep in {@code o.out()} under its lock: the options and sizes are checked and the folder rule applied
     * ({@link Pretrainer#newRun}, or a resume) before anything is written.
     */
    public static Result run(Options o, Listener listener) {
        return Pretrainer.inRunFolder(o.out(), out -> {
            Path text = o.text() != null ? o.text().toAbsolutePath().normalize() : out.resolve("data/text/train.txt");
            if (o.text() != null && !Files.isRegularFile(text)) {
                throw new Mm1Exception("--text " + text + ": file not found");
            }
            List<Long> ns = new ArrayList<>();
            for (Size s : o.sizes()) {
                long n = nonEmbedding(o, s, text);
                int same = ns.indexOf(n);
                if (same >= 0) {
                    throw new Mm1Exception("--sizes: " + o.sizes().get(same).name() + " and " + s.name() + " have "
                            + "the same non-embedding N (" + n + "); the law needs sizes of different N");
                }
                ns.add(n);
            }
            List<String> warnings = new ArrayList<>();
            String coverage = LrSweepReport.coverageWarning(ns);
            if (coverage != null) {
                warnings.add(coverage);
            }
            Pretrainer.recoverOverwritten(out);
            if (o.resume()) {
                if (!isSweep(out)) {
                    throw new Mm1Exception("--resume: --out " + o.out() + " holds no lr-sweep to continue (no "
                            + MARKER + ")" + (OutputDir.isEmptyOrAbsent(out) ? "; start one without --resume" : ""));
                }
                refuseChangedOptions(o, out);
                AtomicFiles.writeString(out.resolve(MARKER), LrSweepReport.marker(o).toPrettyString());
                warnings.forEach(listener::warning);
                return sweep(o, out, text, ns, warnings, listener);
            }
            if (!o.overwrite() && isSweep(out)) {
                throw new Mm1Exception("--out " + o.out() + ": holds an earlier lr-sweep (pass --resume to continue "
                        + "it, reusing its finished sub-runs, or --overwrite to replace it)");
            }
            return Pretrainer.newRun(out, o.overwrite(), started -> {
                AtomicFiles.writeString(out.resolve(MARKER), LrSweepReport.marker(o).toPrettyString());
                warnings.forEach(listener::warning);
                // the new sweep has a result of its own once a sub-run is done: an --overwrite's old files can go
                return sweep(o, out, text, ns, warnings, (name, p, reused) -> {
                    started.run();
                    listener.subRun(name, p, reused);
                });
            });
        });
    }

    /** The options a resumed sweep must keep (its sub-runs' training depends on them), by marker key. */
    private static final Map<String, String> KEPT_ON_RESUME = Map.of("steps", "--steps", "batchSize",
            "--batch-size", "seqLen", "--seq-len", "text", "--text", "sets", "--set");

    /**
     * Refuses a resume whose options would train sub-runs differently from the sweep's marker: a finished sub-run
     * of the old options would otherwise be trained again in place (lost) under the same name. Sizes, LRs, seeds
     * and the held-out size may change: they only add or leave out sub-runs. A sweep from before the marker is not
     * checked.
     */
    private static void refuseChangedOptions(Options o, Path out) {
        Path marker = out.resolve(MARKER);
        if (!Files.isRegularFile(marker)) {
            return;
        }
        JsonNode saved;
        try {
            saved = RunConfig.JSON.readTree(marker.toFile());
        } catch (IOException e) {
            throw new Mm1Exception(marker + ": unreadable (" + e.getMessage() + ")", e);
        }
        JsonNode now = LrSweepReport.marker(o);
        for (String key : List.of("steps", "batchSize", "seqLen", "text", "sets")) {
            JsonNode a = saved.path(key);
            JsonNode b = now.path(key);
            if (!a.equals(b)) {
                throw new Mm1Exception("--resume: " + KEPT_ON_RESUME.get(key) + " was " + show(a) + " when the sweep "
                        + "in " + o.out() + " started, now " + show(b) + "; its sub-runs would be trained again "
                        + "in place (pass --overwrite to replace the sweep, or the same " + KEPT_ON_RESUME.get(key)
                        + ")");
            }
        }
    }

    private static String show(JsonNode n) {
        return n.isMissingNode() || n.isNull() ? "unset" : n.isTextual() ? n.asText() : n.toString();
    }

    /**
     * A folder an earlier sweep wrote: its marker, or for sweeps from before the marker, a sweep.json or a sub-run
     * named as {@link #runLr} names them.
     */
    public static boolean isSweep(Path dir) {
        if (Files.isRegularFile(dir.resolve(MARKER)) || Files.isRegularFile(dir.resolve("sweep.json"))) {
            return true;
        }
        if (!Files.isDirectory(dir.resolve("runs"))) {
            return false;
        }
        try (var runs = Files.list(dir.resolve("runs"))) {
            return runs.anyMatch(p -> p.getFileName().toString().matches(SUB_RUN_NAME));
        } catch (IOException e) {
            throw new Mm1Exception("--out " + dir + ": cannot list runs/: " + e.getMessage(), e);
        }
    }

    private static Result sweep(Options o, Path out, Path text, List<Long> ns, List<String> warnings,
                                Listener listener) {
        long t0 = System.nanoTime();
        if (o.text() == null) {
            syntheticText(out.resolve("data"));
        }
        List<SizeResult> fitted = new ArrayList<>();
        double guess = Double.NaN;
        long prevN = 0;
        for (int i = 0; i < o.sizes().size(); i++) {
            Size s = o.sizes().get(i);
            long n = ns.get(i);
            double g = fitted.isEmpty() ? LrLaw.MM1.peakLr(n)
                    : guess * Math.pow((double) n / prevN, LrLaw.MM1.slope());
            SizeResult r = sweepSize(o, s, n, g, text, out, listener);
            fitted.add(r);
            guess = r.best().lr();
            prevN = n;
        }
        double[] lnN = fitted.stream().mapToDouble(r -> Math.log(r.nonEmbedding())).toArray();
        double[] lnLr = fitted.stream().mapToDouble(r -> Math.log(r.best().lr())).toArray();
        LogLinearFit.Line law = LogLinearFit.line(lnN, lnLr);
        SizeResult held = null;
        double predicted = Double.NaN;
        if (o.heldOut() != null) {
            long n = nonEmbedding(o, o.heldOut(), text);
            predicted = Math.exp(law.at(Math.log(n)));
            held = sweepSize(o, o.heldOut(), n, predicted, text, out, listener);
        }
        Result r = new Result(fitted, law, held, predicted, (System.nanoTime() - t0) / 1e9, List.copyOf(warnings));
        LrSweepReport.write(out, o, r);
        return r;
    }

    private static SizeResult sweepSize(Options o, Size s, long n, double guess, Path text, Path out,
                                        Listener listener) {
        List<Point> points = new ArrayList<>();
        if (o.lrs() != null) {
            for (double lr : o.lrs()) {
                runLr(o, s, lr, text, out, points, listener);
            }
        } else {
            // half-powers of two: LR = 2^(k/2), neighbours √2 apart
            int k0 = (int) Math.round(2 * Math.log(guess) / Math.log(2));
            TreeSet<Integer> ks = new TreeSet<>();
            for (int k = k0 - 2; k <= k0 + 2; k++) {
                ks.add(k);
                runLr(o, s, halfPower(k), text, out, points, listener);
            }
            for (int e = 0; e < MAX_EXTENSIONS; e++) {
                LogLinearFit.Minimum m = best(points);
                int kBest = (int) Math.round(2 * Math.log(m.gridBest()) / Math.log(2));
                int next = kBest == ks.first() ? ks.first() - 1 : kBest == ks.last() ? ks.last() + 1 : Integer.MIN_VALUE;
                if (next == Integer.MIN_VALUE) {
                    break;
                }
                ks.add(next);
                runLr(o, s, halfPower(next), text, out, points, listener);
            }
        }
        LogLinearFit.Minimum m = best(points);
        if (!m.bracketed()) {
            LOG.warn("{}: the lowest loss is at an end of the LR grid ({}); the optimum may lie outside it", s.name(),
                    m.gridBest());
        }
        return new SizeResult(s, n, points, m);
    }

    static double halfPower(int k) {
        return Math.pow(2, k / 2.0);
    }

    private static LogLinearFit.Minimum best(List<Point> points) {
        java.util.Set<Double> diverged = points.stream().filter(p -> !Double.isFinite(p.valLoss())).map(Point::lr)
                .collect(java.util.stream.Collectors.toSet());
        if (points.stream().allMatch(p -> diverged.contains(p.lr()))) { // an LR counts as diverged if any seed did
            throw new Mm1Exception("runs diverged at every LR of " + points.stream().map(p -> String.format(
                    Locale.ROOT, "%.3g", p.lr())).distinct().toList() + ": the grid needs lower LRs (--lrs)");
        }
        return LogLinearFit.bestLr(points.stream().mapToDouble(Point::lr).toArray(),
                points.stream().mapToDouble(Point::valLoss).toArray(), FIT_HALF_WIDTH);
    }

    /** A sub-run's folder name, as {@link #SUB_RUN_NAME} matches it: {@code 2x32_lr1.000e-03_s0}. */
    static String subRunName(Size s, double lr, int seed) {
        return String.format(Locale.ROOT, "%s_lr%.3e_s%d", s.name(), lr, seed);
    }

    /** Matches the names {@link #subRunName} gives. */
    private static final String SUB_RUN_NAME = "\\d+x\\d+_lr[0-9.e+-]+_s\\d+";

    private static void runLr(Options o, Size s, double lr, Path text, Path out, List<Point> points,
                              Listener listener) {
        for (int seed = 0; seed < o.seeds(); seed++) {
            String name = subRunName(s, lr, seed);
            Path dir = out.resolve("runs").resolve(name);
            RunConfig rc = config(o, s, lr, seed, text);
            Pretrainer.recoverOverwritten(dir); // a finished sub-run set aside by a killed rerun counts as finished
            Point reused = reuse(dir, lr, seed, rc, out);
            if (reused != null) {
                points.add(reused);
                listener.subRun(name, reused, true);
                continue;
            }
            Point p;
            long t0 = System.nanoTime();
            try {
                Pretrainer.Result r = Pretrainer.run(new Pretrainer.Options(dir, rc, false, true, null, 0), QUIET);
                p = new Point(lr, seed, r.summary().path("finalValLoss").asDouble(Double.NaN),
                        r.summary().path("wallSeconds").asDouble());
            } catch (TrainLoop.Diverged e) {
                // too high an LR is a finding, not a failure: no loss (worse than any finite one in the fit)
                LOG.info("{}: diverged ({})", name, e.getMessage());
                p = new Point(lr, seed, Double.NaN, (System.nanoTime() - t0) / 1e9);
            }
            points.add(p);
            listener.subRun(name, p, false);
        }
    }

    /**
     * A complete earlier sub-run with exactly this config (LR, seed, steps, shapes, data and every --set), or null:
     * a sweep rerun with other settings trains its sub-runs again. Paths into the sweep folder {@code out} compare
     * wherever the folder was when the sub-run trained ({@link MovedFolder}): a moved sweep resumes.
     */
    private static Point reuse(Path dir, double lr, int seed, RunConfig rc, Path out) {
        Path summary = dir.resolve("summary.json");
        if (!Files.isRegularFile(summary) || !Files.isRegularFile(dir.resolve("run.json"))) {
            return null;
        }
        try {
            com.fasterxml.jackson.databind.node.ObjectNode saved = (com.fasterxml.jackson.databind.node.ObjectNode)
                    RunConfig.JSON.readTree(dir.resolve("run.json").toFile());
            saved.remove("_run");
            JsonNode wanted = RunConfig.JSON.readTree(rc.tree().toString());
            if (!MovedFolder.reRooted(saved, wanted, out).equals(wanted)) {
                return null;
            }
            JsonNode n = RunConfig.JSON.readTree(summary.toFile());
            if (!n.path("complete").asBoolean() && !n.path("diverged").asBoolean()) {
                return null; // stopped part way: train it again
            }
            double v = n.path("finalValLoss").isNumber() ? n.path("finalValLoss").asDouble() : Double.NaN;
            return new Point(lr, seed, v, n.path("wallSeconds").asDouble());
        } catch (IOException | ClassCastException e) {
            return null; // unreadable: run it again
        }
    }

    /** The sub-run's config: a text-only byte-level Llama of size {@code s} on {@code text}, one eval at the end. */
    static RunConfig config(Options o, Size s, double lr, int seed, Path text) {
        Map<String, String> shorthand = new LinkedHashMap<>();
        shorthand.put("train.steps", Integer.toString(o.steps()));
        shorthand.put("train.seed", Integer.toString(seed));
        List<String> sets = new ArrayList<>(List.of("model.vision=false", "model.connector=false",
                "model.moe=false", "tokenizer=bytes",
                "data.sources=[{\"name\":\"text\",\"format\":\"text\",\"path\":" + RunConfig.JSON.getNodeFactory()
                        .textNode(text.toString()) + "}]",
                "data.seq_len=" + o.seqLen(), "data.workers=1",
                "optim.lr=" + lr, "optim.warmup_steps=" + Math.max(1, o.steps() / 10),
                "train.batch_size=" + o.batchSize(), "train.eval_interval=" + o.steps(),
                "train.checkpoint_interval=0", "train.keep_checkpoints=1",
                "train.log_interval=" + Math.max(1, o.steps() / 10)));
        sets.addAll(s.sets());
        sets.addAll(o.extraSets());
        return RunConfig.resolve(null, shorthand, sets);
    }

    /** Non-embedding parameters of a size as the sub-runs build it (the byte tokenizer's vocabulary). */
    static long nonEmbedding(Options o, Size s, Path text) {
        Mm1Config c = RunModels.build(config(o, s, 1e-3, 0, text), 256 + io.mm1j.tokenizer.SpecialTokens.COUNT,
                s.name());
        return ParamCount.llm(c.llm()).nonEmbedding();
    }

    /**
     * The synthetic world's training text (its 2,000-picture world, seed 0), written once into {@code dataDir}: the
     * text alone, since the text-only sub-runs read nothing else of the world.
     */
    static Path syntheticText(Path dataDir) {
        Path file = dataDir.resolve("text/train.txt");
        if (!Files.isRegularFile(file)) {
            AtomicFiles.writeString(file, SynthWriter.text(SYNTHETIC_IMAGES, 0, "train"));
        }
        return file;
    }

}
