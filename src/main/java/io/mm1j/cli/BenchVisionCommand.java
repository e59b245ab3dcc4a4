package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import io.mm1j.bench.VisionBench;
import io.mm1j.config.Presets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 bench vision}: encoder + connector forward images/s and MFU against sgemm in the same run. */
@Command(name = "vision", mixinStandardHelpOptions = true,
        description = "Image encoder + connector forward throughput (images/s, F32, random weights) and MFU.")
public final class BenchVisionCommand implements Callable<Integer> {
    @Option(names = "--preset", defaultValue = "mini", description = "Preset (default ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--batch", defaultValue = "8", description = "Images per forward (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--reps", defaultValue = "5", description = "Timed forwards, median reported (default "
            + "${DEFAULT-VALUE}).")
    int reps;

    @Mixin
    BenchOptions bench;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() {
        var cfg = Presets.load(preset);
        try (NDManager root = device.root(0)) {
            bench.print(VisionBench.run(root, cfg, preset, batch, reps));
        }
        return 0;
    }
}
