package io.mm1j.llm;

import io.mm1j.Mm1Exception;
import java.util.Arrays;

/**
 * Which implementation runs batch-1 generation. A per-generator choice (the CLI's {@code --decode}), so a
 * benchmark or test that compares the two never changes what other code in the same JVM runs.
 */
public enum DecodePath {
    /** The plain-Java {@link CpuDecoder} where it applies ({@link CpuDecoder#supports}), else {@link #DJL}. */
    CPU("cpu"),
    /** Always the DJL/libtorch {@link Decoder#forward} with a KV cache. */
    DJL("djl");

    private final String option;

    DecodePath(String option) {
        this.option = option;
    }

    /** The command-line spelling. */
    public String option() {
        return option;
    }

    /** The path spelled {@code name} on the command line ("cpu" or "djl"), or a clear error. */
    public static DecodePath of(String name) {
        for (DecodePath p : values()) {
            if (p.option.equals(name)) {
                return p;
            }
        }
        throw new Mm1Exception("--decode must be one of " + Arrays.stream(values()).map(DecodePath::option).toList()
                + ", got " + name);
    }

    @Override
    public String toString() {
        return option;
    }
}
