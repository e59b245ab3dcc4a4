package io.mm1j.llm;

import io.mm1j.Mm1Exception;
import java.util.Arrays;

/** How the CPU decode path stores the weight matrices: the CLI's {@code --quantize}. */
public enum Quantization {
    /** As the model folder stores them (float32, or int8 for a folder written by {@code mm1 quantize}). */
    NONE("none"),
    /** Int8 values with a float32 scale per {@link Int8Matrix#DEFAULT_GROUP} columns, quantised on load. */
    INT8("int8");

    private final String option;

    Quantization(String option) {
        this.option = option;
    }

    /** The command-line spelling. */
    public String option() {
        return option;
    }

    /** The setting spelled {@code name} on the command line, or a clear error. */
    public static Quantization of(String name) {
        for (Quantization q : values()) {
            if (q.option.equals(name)) {
                return q;
            }
        }
        throw new Mm1Exception("--quantize must be one of " + Arrays.stream(values()).map(Quantization::option)
                .toList() + ", got " + name);
    }

    /** Quantises {@code d} as this setting says (a decoder that already holds int8 weights is left as it is). */
    public void apply(Decoder d) {
        if (this == INT8 && d.int8Weights() == null) {
            d.quantizeInt8(Int8Matrix.DEFAULT_GROUP);
        }
    }

    @Override
    public String toString() {
        return option;
    }
}
