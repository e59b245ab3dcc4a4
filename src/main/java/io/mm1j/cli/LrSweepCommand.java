package io.mm1j.cli;

import io.mm1j.train.LrSweep;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 lr-sweep}: parses the sweep options, prints a line per sub-run and the fitted law. */
@Command(name = "lr-sweep", mixinStandardHelpOptions = true,
        description = "Re-measure MM1's peak-LR law (ln η = a·ln N + b) with short pre-training runs of small "
                + "text-only Llamas over an LR grid; writes report.md, sweep.json and plots.")
public final class LrSweepCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "Sweep folder (runs/NAME); sub-runs go to runs/ inside. "
            + "A non-empty one is refused without --resume or --overwrite.")
    Path out;

    @Option(names = "--sizes", split = ",", description = "Fitted model sizes, WIDTH or LAYERSxWIDTH "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "2x32,2x48,2x64,2x128")
    List<String> sizes;

    @Option(names = "--held-out", description = "Size whose best LR checks the fitted law (default: "
            + "${DEFAULT-VALUE}; 'none' to skip).", defaultValue = "2x96")
    String heldOut;

    @Option(names = "--lrs", split = ",", description = "Peak-LR grid for every size (neighbours at most √2 apart); "
            + "default: an adaptive grid of half-powers of two around each size's expected optimum.")
    List<Double> lrs;

    @Option(names = "--steps", description = "Optimizer steps per run (default: ${DEFAULT-VALUE}).",
            defaultValue = "120")
    int steps;

    @Option(names = "--seeds", description = "Seeds per LR (default: ${DEFAULT-VALUE}).", defaultValue = "2")
    int seeds;

    @Option(names = "--batch-size", description = "Sequences per step (default: ${DEFAULT-VALUE}).",
            defaultValue = "8")
    int batchSize;

    @Option(names = "--seq-len", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).",
            defaultValue = "128")
    int seqLen;

    @Option(names = "--text", description = "Plain-text corpus (default: the synthetic world's text).")
    Path text;

    @Option(names = "--set", description = "Config override for every sub-run, as in 'pretrain' (repeatable).")
    List<String> sets = new ArrayList<>();

    @Option(names = "--resume", description = "Continue the sweep in --out: its finished sub-runs with the same "
            + "settings are reused.")
    boolean resume;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder.")
    boolean overwrite;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() {
        device.use();
        List<Double> grid = lrs == null ? null : lrs.stream().sorted().toList();
        LrSweep.Options o = new LrSweep.Options(out, sizes.stream().map(LrSweep.Size::parse).toList(),
                heldOut.equalsIgnoreCase("none") ? null : LrSweep.Size.parse(heldOut), grid, steps, seeds, batchSize,
                seqLen, text, sets, overwrite, resume);
        LrSweep.Result r = LrSweep.run(o, new LrSweep.Listener() {
            @Override
            public void subRun(String name, LrSweep.Point p, boolean reused) {
                System.out.printf(Locale.ROOT, "%-28s val loss %.4f  %5.1fs%s%n", name, p.valLoss(), p.seconds(),
                        reused ? "  (reused)" : "");
            }

            @Override
            public void warning(String line) {
                System.err.println("mm1: warning: " + line);
            }
        });
        System.out.println();
        for (LrSweep.SizeResult s : r.fitted()) {
            System.out.printf(Locale.ROOT, "%-8s N=%,10d  best LR %.3e%s%n", s.size().name(), s.nonEmbedding(),
                    s.best().lr(), s.best().bracketed() ? "" : "  (at the grid's end)");
        }
        if (!r.lawFitted()) {
            System.out.println("law not fitted: " + r.lawNotFitted());
        } else {
            System.out.printf(Locale.ROOT, "fitted: ln η = %.4f·ln N %+.4f (r² %.3f);  MM1: ln η = -0.4214·ln N - "
                    + "0.5535%n", r.law().slope(), r.law().intercept(), r.law().r2());
        }
        if (r.heldOut() != null && r.lawFitted()) {
            System.out.printf(Locale.ROOT, "held out %s: predicted %.3e, measured %.3e (×%.2f) → %s ×%.1f%n",
                    r.heldOut().size().name(), r.predictedLr(), r.heldOut().best().lr(), r.heldOutRatio(),
                    r.heldOutWithinTolerance() ? "within" : "outside", LrSweep.TOLERANCE);
        }
        System.out.println("report: " + out.resolve("report.md"));
        return 0;
    }
}
