package io.mm1j.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import io.mm1j.Mm1Exception;
import java.util.Arrays;
import java.util.List;

/**
 * The vision-language connectors mm1j builds (MM1 §3.2 compares the first three; "mlp" is LLaVA-1.5's baseline).
 * Config JSON spells them as {@link #json()}; code switches over the enum, so a new type that some switch forgets
 * is a compile error rather than a runtime {@code default} branch.
 */
public enum ConnectorType {
    /** Adaptive average pooling of the patch grid to √k×√k, then a linear projection. */
    AVG_POOL("avgpool", true),
    /** k learned queries cross-attend to the patch tokens (k need not be a square). */
    ATTENTION_POOL("attnpool", false),
    /** Honeybee's convolutional abstractor: bottleneck stages around an adaptive average pool to √k×√k. */
    C_ABSTRACTOR("c-abstractor", true),
    /** A 2-layer MLP on every patch token (k = the patch count). */
    MLP("mlp", false);

    private final String json;
    private final boolean squareTokens;

    ConnectorType(String json, boolean squareTokens) {
        this.json = json;
        this.squareTokens = squareTokens;
    }

    /** The name used in config JSON and on the command line. */
    @JsonValue
    public String json() {
        return json;
    }

    /** True when k must be a square: the patch grid is pooled to a √k×√k grid. */
    public boolean squareTokens() {
        return squareTokens;
    }

    /** Every JSON name, in declaration order (for messages). */
    public static List<String> names() {
        return Arrays.stream(values()).map(ConnectorType::json).toList();
    }

    /** The type spelled {@code name} in config JSON, or a clear error listing the known names. */
    @JsonCreator
    public static ConnectorType of(String name) {
        for (ConnectorType t : values()) {
            if (t.json.equals(name)) {
                return t;
            }
        }
        throw new Mm1Exception("connector.type must be one of " + names() + ", got " + name);
    }

    @Override
    public String toString() {
        return json;
    }
}
