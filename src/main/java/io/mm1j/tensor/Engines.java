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

    private Engines() {}

    /** Sets offline mode and thread properties (once per JVM) and returns the PyTorch engine, seeded. */
    public static synchronized Engine init(int seed) {
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
        Engine engine = Engine.getEngine("PyTorch");
        engine.setRandomSeed(seed);
        return engine;
    }

    /** A long-lived manager on the engine's default device (GPU when present, else CPU). */
    public static NDManager newRootManager(int seed) {
        return newRootManager(seed, null);
    }

    /** A long-lived manager on {@code device}, or on the engine's default device when it is null. */
    public static NDManager newRootManager(int seed, Device device) {
        Engine engine = init(seed);
        return engine.newBaseManager(device == null ? engine.defaultDevice() : device);
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
