package io.mm1j.cli;

import io.mm1j.Mm1Exception;
import io.mm1j.train.RunComparison;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 compare-runs}: one metric of several run folders in one plot, and a table of last and best values. */
@Command(name = "compare-runs", mixinStandardHelpOptions = true,
        description = "Plot one metric of several pretrain runs (their metrics.jsonl) in one PNG and print its last "
                + "and lowest value per run.")
public final class CompareRunsCommand implements Callable<Integer> {
    @Option(names = "--runs", required = true, split = ",", description = "Run folders, comma-separated.")
    List<Path> runs;

    @Option(names = "--labels", split = ",", description = "A legend label per run (default: folder names).")
    List<String> labels = List.of();

    @Option(names = "--offsets", split = ",", description = "Steps added to each run's steps (e.g. a run continued "
            + "with --init after N steps of another: N); default 0.")
    List<Long> offsets = List.of();

    @Option(names = "--metric", defaultValue = "valLoss", description = "Metric of metrics.jsonl (default: "
            + "${DEFAULT-VALUE}).")
    String metric;

    @Option(names = "--out", required = true, description = "PNG file to write.")
    Path out;

    @Option(names = "--log-y", description = "Logarithmic y axis (when the values span more than 100×).")
    boolean logY;

    @Option(names = "--overwrite", description = "Replace an existing --out file.")
    boolean overwrite;

    @Override
    public Integer call() {
        if (!out.toString().endsWith(".png")) {
            throw new Mm1Exception("--out " + out + ": expected a .png file name");
        }
        if (Files.exists(out) && !overwrite) {
            throw new Mm1Exception("--out " + out + ": exists (pass --overwrite to replace it)");
        }
        List<RunComparison.Series> series = RunComparison.read(runs, labels, offsets, metric);
        RunComparison.plot(series, metric, out, logY);
        int w = Math.max(5, series.stream().mapToInt(s -> s.label().length()).max().orElse(5));
        System.out.printf(Locale.ROOT, "%-" + w + "s  %10s  %12s  %10s  %12s%n", "run", "last step", "last " + metric,
                "min step", "min " + metric);
        for (RunComparison.Series s : series) {
            System.out.printf(Locale.ROOT, "%-" + w + "s  %10.0f  %12.4f  %10.0f  %12.4f%n", s.label(), s.last()[0],
                    s.last()[1], s.best()[0], s.best()[1]);
        }
        System.out.println("plot: " + out);
        return 0;
    }
}
