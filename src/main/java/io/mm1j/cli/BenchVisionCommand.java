package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.bench.VisionBench;
import io.mm1j.config.Presets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 bench vision}: encoder + connector forward images/s and MFU against sgemm in the same run. */
@Command(name = "vision", mixinStandardHelpOptions = true,
        description = "Image encoder + connector forward throughput (images/s, F32, random weights) and MFU.")
public final class BenchVisionCommand extends BenchTask.OnDevice {
    @Option(names = "--preset", defaultValue = "mini", description = "Preset (default ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--batch", defaultValue = "8", description = "Images per forward (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--reps", defaultValue = "5", description = "Timed forwards, median reported (default "
            + "${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--image-size", defaultValue = "0", description = "Input side in pixels, a multiple of the "
            + "patch size (e.g. 672 for MM1's high-resolution tiles; default: the preset's).")
    int imageSize;

    @Option(names = "--warmup", defaultValue = "2", description = "Untimed forwards first (default "
            + "${DEFAULT-VALUE}; 0 for a memory-only run).")
    int warmup;

    @Override
    ObjectNode run(NDManager root) {
        return VisionBench.run(root, Presets.load(preset), preset, batch, reps, imageSize, warmup);
    }
}
