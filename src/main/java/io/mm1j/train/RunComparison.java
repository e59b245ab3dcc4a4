package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.BoundedFiles;
import io.mm1j.io.JsonFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One metric of several runs side by side ({@code mm1 compare-runs}): each run's {@code metrics.jsonl} series,
 * optionally shifted by a step offset (a run continued with {@code pretrain --init} counts its steps from 1 again),
 * drawn as one PNG with a line per run, and summarised (last and best value) for a table.
 */
public final class RunComparison {
    /** Largest metrics.jsonl read (a line per step: far above any run this machine trains). */
    static final long MAX_METRICS_BYTES = 1L << 30;

    /** One run's series: (step + offset, value) in logging order. */
    public record Series(String label, Path run, List<double[]> points) {
        public double[] last() {
            return points.get(points.size() - 1);
        }

        /** The lowest value (losses) and its step. */
        public double[] best() {
            double[] b = points.get(0);
            for (double[] p : points) {
                if (p[1] < b[1]) {
                    b = p;
                }
            }
            return b;
        }
    }

    private RunComparison() {}

    /**
     * Reads {@code metric} from each run folder's {@code metrics.jsonl}.
     *
     * @param labels  one per run, or empty for the folder names
     * @param offsets one per run (added to its steps), or empty for none
     */
    public static List<Series> read(List<Path> runs, List<String> labels, List<Long> offsets, String metric) {
        if (runs.isEmpty()) {
            throw new Mm1Exception("--runs: give at least one run folder");
        }
        if (!labels.isEmpty() && labels.size() != runs.size()) {
            throw new Mm1Exception("--labels: " + labels.size() + " label(s) for " + runs.size() + " run(s)");
        }
        if (!offsets.isEmpty() && offsets.size() != runs.size()) {
            throw new Mm1Exception("--offsets: " + offsets.size() + " offset(s) for " + runs.size() + " run(s)");
        }
        List<Series> out = new ArrayList<>();
        for (int i = 0; i < runs.size(); i++) {
            Path run = runs.get(i);
            String label = labels.isEmpty() ? run.toAbsolutePath().normalize().getFileName().toString()
                    : labels.get(i);
            out.add(new Series(label, run, series(run, metric, offsets.isEmpty() ? 0 : offsets.get(i))));
        }
        return out;
    }

    private static List<double[]> series(Path run, String metric, long offset) {
        if (!Files.isDirectory(run)) {
            throw new Mm1Exception("--runs: " + run + " is not a folder");
        }
        Path file = run.resolve("metrics.jsonl");
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(run + ": no metrics.jsonl (not a pretrain run folder?)");
        }
        BoundedFiles.checkRegular(file, MAX_METRICS_BYTES, "metrics file");
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot read: " + e.getMessage(), e);
        }
        List<double[]> points = new ArrayList<>();
        TreeSet<String> seen = new TreeSet<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            JsonNode n;
            try {
                n = JsonFiles.MAPPER.readTree(lines.get(i));
            } catch (IOException e) {
                if (i == lines.size() - 1) {
                    continue; // the last line cut by a kill while it was written
                }
                throw new Mm1Exception(file + ": line " + (i + 1) + " is not valid JSON", e);
            }
            n.fieldNames().forEachRemaining(seen::add);
            JsonNode v = n.get(metric);
            if (v != null && v.isNumber() && n.path("step").isIntegralNumber()) {
                points.add(new double[] {n.get("step").asLong() + offset, v.asDouble()});
            }
        }
        if (points.isEmpty()) {
            seen.remove("step");
            throw new Mm1Exception(file + ": no '" + metric + "' values (metrics there: " + String.join(", ", seen)
                    + ")");
        }
        return points;
    }

    /** Draws the series as one line each into {@code png}. */
    public static void plot(List<Series> series, String metric, Path png, boolean logY) {
        Map<String, List<double[]>> lines = new LinkedHashMap<>();
        for (Series s : series) {
            String name = s.label();
            for (int k = 2; lines.containsKey(name); k++) {
                name = s.label() + " (" + k + ")";
            }
            lines.put(name, s.points());
        }
        Path abs = png.toAbsolutePath();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".partial.png");
        Plots.lines(tmp, metric, metric, lines, logY);
        try {
            Files.move(tmp, abs, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new Mm1Exception(png + ": cannot write: " + e.getMessage(), e);
        }
    }
}
