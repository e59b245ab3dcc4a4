package io.mm1j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Training metrics as JSON lines ({@code metrics.jsonl}: one object per logged step, flushed as written so a
 * crash loses at most the line being written), kept in memory too so {@link Plots} can draw them at the end.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final BufferedWriter out;
    private final Map<String, List<double[]>> series = new LinkedHashMap<>();

    public MetricsLog(Path file) {
        this(file, -1);
    }

    /**
     * Continues {@code file} after a resume: lines of steps after {@code keepUpToStep} (logged after the checkpoint
     * the run resumes from) are dropped, the rest is kept and reloaded for the plots, and new lines are appended.
     * With {@code keepUpToStep < 0} the file is started afresh.
     */
    public MetricsLog(Path file, long keepUpToStep) {
        this.file = file;
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            if (keepUpToStep >= 0 && Files.isRegularFile(file)) {
                StringBuilder kept = new StringBuilder();
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) {
                        continue;
                    }
                    com.fasterxml.jackson.databind.JsonNode n;
                    try {
                        n = JSON.readTree(line);
                    } catch (IOException e) {
                        continue; // a line cut by a kill: dropped, the step is logged again after the resume
                    }
                    long step = n.path("step").asLong(Long.MAX_VALUE);
                    if (step > keepUpToStep) {
                        continue;
                    }
                    kept.append(line).append('\n');
                    n.fields().forEachRemaining(e -> {
                        if (!e.getKey().equals("step") && e.getValue().isNumber()) {
                            series.computeIfAbsent(e.getKey(), x -> new ArrayList<>())
                                    .add(new double[] {step, e.getValue().asDouble()});
                        }
                    });
                }
                io.mm1j.io.AtomicFiles.writeString(file, kept.toString());
                out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
            } else {
                out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            }
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot write metrics: " + e.getMessage(), e);
        }
    }

    /** Every series by name (for plots). */
    public Map<String, List<double[]>> allSeries() {
        return java.util.Collections.unmodifiableMap(series);
    }

    /** Logs {@code values} (name → number) at {@code step}. */
    public void log(long step, Map<String, Double> values) {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", step);
        values.forEach((k, v) -> {
            o.put(k, v);
            series.computeIfAbsent(k, x -> new ArrayList<>()).add(new double[] {step, v});
        });
        try {
            out.write(JSON.writeValueAsString(o));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot write metrics: " + e.getMessage(), e);
        }
    }

    /** (step, value) pairs of one metric, in logging order. */
    public List<double[]> series(String name) {
        return series.getOrDefault(name, List.of());
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot close metrics: " + e.getMessage(), e);
        }
    }
}
