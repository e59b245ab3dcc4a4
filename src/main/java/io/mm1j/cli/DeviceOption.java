package io.mm1j.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.mm1j.tensor.Engines;
import picocli.CommandLine.Option;

/**
 * {@code --device} for commands that compute with tensors (a picocli mixin); unset means the engine's default.
 * {@link #use} makes the choice the process's device for every root manager the command opens
 * ({@link Engines#newRootManager(int)}), so training, evaluation and export all run where the user asked.
 */
public final class DeviceOption {
    @Option(names = "--device", description = "cpu, cuda, cuda:N (also gpu, gpuN; default: a GPU when the engine "
            + "has one, else cpu). CUDA needs the -Pcuda build (MM1_CUDA=1 ./mm1 …).")
    String device;

    /** The long-lived root manager on the chosen device, the engine seeded with {@code seed}. */
    NDManager root(int seed) {
        return Engines.newRootManager(seed, use());
    }

    /**
     * Checks the chosen device against the engine (a clear error when CUDA is asked for and absent) and makes it the
     * process's default device; returns it, or null for the engine's default.
     */
    Device use() {
        Device d = device == null ? null : Engines.checkDevice(Engines.parseDevice(device, "--device"));
        Engines.setDefaultDevice(d);
        return d;
    }
}
