package io.mm1j.cli;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The options every training command ({@code pretrain}, {@code sft}, {@code clip}) shares: the run folder, config
 * overrides, the shorthand keys, resume and the interruption point.
 */
public final class RunOptions {
    @Option(names = "--out", required = true, description = "Run folder (runs/NAME).")
    Path out;

    @Option(names = "--set", description = "Override a config key: --set optim.lr=3e-4 (repeatable).")
    List<String> sets = new ArrayList<>();

    @Option(names = "--steps", description = "Sets train.steps (the run's total optimizer steps).")
    Integer steps;

    @Option(names = "--seed", description = "Sets train.seed.")
    Integer seed;

    @Option(names = "--resume", description = "Continue the run in --out from its newest checkpoint.")
    boolean resume;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder.")
    boolean overwrite;

    @Option(names = "--stop-at-step", description = "End after this step with a checkpoint, as an interruption "
            + "would (the schedule still spans train.steps).")
    Long stopAtStepOption;

    /** {@code --stop-at-step}, 0 when not given; a value below 1 is refused. */
    long stopAtStep() {
        if (stopAtStepOption == null) {
            return 0;
        }
        if (stopAtStepOption < 1) {
            throw new io.mm1j.Mm1Exception("--stop-at-step must be a step >= 1, got " + stopAtStepOption);
        }
        return stopAtStepOption;
    }

    /**
     * The config file a run starts from, without any {@code _run} record (a run.json is a valid config): {@code
     * --config}, or with {@code --resume} and none, the run's own run.json, read after an interrupted
     * {@code --overwrite} in that folder was finished (the old run put back), so that it is the run's.
     */
    Path base(Path config) {
        if (resume && config == null) {
            io.mm1j.train.Pretrainer.recoverOverwrittenLocked(out);
            if (Files.isRegularFile(out.resolve("run.json"))) {
                return stripRunMeta(out.resolve("run.json"));
            }
        }
        return config == null || !hasRunMeta(config) ? config : stripRunMeta(config);
    }

    /** Whether a config file is a run's run.json (a top-level {@code _run} record); false when unreadable. */
    private static boolean hasRunMeta(Path file) {
        try {
            return Files.isRegularFile(file) && new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                    file.toFile()) instanceof com.fasterxml.jackson.databind.node.ObjectNode o && o.has("_run");
        } catch (IOException e) {
            return false; // the config reader reports it, naming the file
        }
    }

    /** {@code --preset} (when given), {@code --steps} and {@code --seed} as the config keys they set. */
    Map<String, String> shorthand(String preset) {
        Map<String, String> shorthand = new LinkedHashMap<>();
        if (preset != null) {
            shorthand.put("model.preset", preset);
        }
        if (steps != null) {
            shorthand.put("train.steps", Integer.toString(steps));
        }
        if (seed != null) {
            shorthand.put("train.seed", Integer.toString(seed));
        }
        return shorthand;
    }

    /** A copy of a run's run.json without its {@code _run} record (git commit, versions), as a config file. */
    static Path stripRunMeta(Path runJson) {
        try {
            com.fasterxml.jackson.databind.node.ObjectNode n = (com.fasterxml.jackson.databind.node.ObjectNode)
                    new com.fasterxml.jackson.databind.ObjectMapper().readTree(runJson.toFile());
            n.remove("_run");
            Path tmp = Files.createTempFile("mm1-run", ".json");
            tmp.toFile().deleteOnExit();
            Files.writeString(tmp, n.toString());
            return tmp;
        } catch (IOException e) {
            throw new Mm1Exception(runJson + ": unreadable: " + e.getMessage(), e);
        }
    }
}
