package io.mm1j.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.Engines;
import picocli.CommandLine.Option;

/** {@code --device} for commands that compute with tensors (a picocli mixin); unset means the engine's default. */
public final class DeviceOption {
    @Option(names = "--device", description = "cpu, gpu or gpuN (default: a GPU when the engine has one, else cpu).")
    String device;

    /** The long-lived root manager on the chosen device, the engine seeded with {@code seed}. */
    NDManager root(int seed) {
        return Engines.newRootManager(seed, device());
    }

    /** The chosen device, or null for the engine's default. */
    Device device() {
        if (device == null) {
            return null;
        }
        if (!device.matches("cpu|gpu[0-9]*")) {
            throw new Mm1Exception("--device must be cpu, gpu or gpuN, got '" + device + "'");
        }
        return device.equals("cpu") ? Device.cpu()
                : Device.gpu(device.length() == 3 ? 0 : Integer.parseInt(device.substring(3)));
    }
}
