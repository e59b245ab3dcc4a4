package io.mm1j.tensor;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;

/**
 * Engine bootstrap: offline PyTorch through DJL, fixed seed, thread counts.
 *
 * <p>Thread settings are read by DJL when the PyTorch engine first loads, so {@link #init} must run before any
 * NDArray is created. The launcher also passes them as {@code -D} flags; explicit values here win only when the
 * property is still unset.
 */
public final class Engines {
    private static volatile boolean initialised;
    /** The device chosen for this process ({@code --device}); null: the engine's default. */
    private static volatile Device chosen;

    private Engines() {}

    /** Sets offline mode and thread properties (once per JVM) and returns the PyTorch engine, seeded. */
    public static synchronized Engine init(int seed) {
        Engine engine = engine();
        engine.setRandomSeed(seed);
        return engine;
    }

    /** The PyTorch engine, with the properties of {@link #init} set before it first loads; not re-seeded. */
    private static synchronized Engine engine() {
        if (!initialised) {
            setIfAbsent("ai.djl.offline", "true");
            setIfAbsent("ai.djl.default_engine", "PyTorch");
            String threads = System.getenv("MM1_THREADS");
            if (threads == null) {
                threads = Integer.toString(Math.max(1, Runtime.getRuntime().availableProcessors()));
            }
            setIfAbsent("ai.djl.pytorch.num_threads", threads);
            setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
            // DJL logs the native library extraction at INFO; keep the CLI quiet unless asked.
            setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "warn");
            initialised = true;
        }
        return Engine.getEngine("PyTorch");
    }

    /**
     * A long-lived manager on the process's device: the one {@link #setDefaultDevice} chose, else the engine's
     * default (GPU when present, else CPU).
     */
    public static NDManager newRootManager(int seed) {
        return newRootManager(seed, null);
    }

    /** A long-lived manager on {@code device}, or on the process's device ({@link #defaultDevice}) when it is null. */
    public static NDManager newRootManager(int seed, Device device) {
        Engine engine = init(seed);
        return engine.newBaseManager(device == null ? defaultDevice() : device);
    }

    /** The device root managers use when none is given: {@code --device}'s choice, else the engine's default. */
    public static Device defaultDevice() {
        Device d = chosen;
        return d != null ? d : engine().defaultDevice(); // (not init: that would re-seed the engine)
    }

    /** Sets the process's device (null: back to the engine's default). The CLI sets it once per command. */
    public static void setDefaultDevice(Device device) {
        chosen = device;
    }

    /**
     * Parses a device name: {@code cpu}, {@code cuda}, {@code cuda:N}, {@code gpu}, {@code gpuN} or {@code gpu:N}
     * ({@code what} names the option in the error).
     */
    public static Device parseDevice(String name, String what) {
        String s = name.strip().toLowerCase(java.util.Locale.ROOT);
        if (s.equals("cpu")) {
            return Device.cpu();
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?:cuda|gpu)(?::?([0-9]{1,3}))?").matcher(s);
        if (!m.matches() || (s.startsWith("cuda") && m.group(1) != null && !s.contains(":"))) {
            throw new io.mm1j.Mm1Exception(what + " must be cpu, cuda or cuda:N (also gpu, gpuN), got '" + name + "'");
        }
        return Device.gpu(m.group(1) == null ? 0 : Integer.parseInt(m.group(1)));
    }

    /**
     * {@code device} if the engine has it; a GPU the engine does not see is a clear error (with the CPU libtorch
     * build, or without a CUDA driver, the engine sees none).
     */
    public static Device checkDevice(Device device) {
        if (device.isGpu()) {
            int gpus = engine().getGpuCount();
            if (device.getDeviceId() >= gpus) {
                throw new io.mm1j.Mm1Exception("CUDA device cuda:" + device.getDeviceId() + " is not available: the "
                        + "PyTorch engine sees " + gpus + " GPU" + (gpus == 1 ? "" : "s")
                        + (gpus == 0 ? " (a CUDA build is needed: mvn -Pcuda, or MM1_CUDA=1 ./mm1, and an NVIDIA "
                        + "driver)" : ""));
            }
        }
        return device;
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
