package io.mm1j.config;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Named model presets shipped in {@code src/main/resources/presets/NAME.json}, and config JSON (de)serialisation. */
public final class Presets {
    /** Every shipped preset, smallest first. */
    public static final List<String> NAMES = List.of("tiny-test", "mini", "ablation-1.2b", "mm1-3b", "mm1-7b",
            "mm1-30b", "mm1-3b-moe", "mm1-7b-moe");

    public static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private Presets() {}

    public static Mm1Config load(String name) {
        try (InputStream in = Presets.class.getResourceAsStream("/presets/" + name + ".json")) {
            if (in == null) {
                throw new Mm1Exception("unknown preset '" + name + "'; known presets: " + String.join(", ", NAMES));
            }
            return JSON.readValue(in, Mm1Config.class);
        } catch (IOException e) {
            throw new Mm1Exception("preset " + name + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    /** Reads an mm1j config JSON file (the format {@link #toJson} writes). */
    public static Mm1Config read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": config file not found");
        }
        try {
            return JSON.readValue(file.toFile(), Mm1Config.class);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": invalid mm1j config: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    public static String toJson(Object config) {
        try {
            return JSON.writeValueAsString(config);
        } catch (IOException e) {
            throw new Mm1Exception("cannot encode config: " + e.getMessage(), e);
        }
    }
}
