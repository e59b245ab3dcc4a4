package io.mm1j.cli;

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
     * The config file a run starts from (a run.json is one: the config reader sets its {@code _run} record aside):
     * {@code --config}, or with {@code --resume} and none, the run's own run.json, read after an interrupted
     * {@code --overwrite} in that folder was finished (the old run put back), so that it is the run's.
     */
    Path base(Path config) {
        if (resume && config == null) {
            io.mm1j.train.Pretrainer.recoverOverwrittenLocked(out);
            if (Files.isRegularFile(out.resolve("run.json"))) {
                return out.resolve("run.json");
            }
        }
        return config;
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
}
