package io.mm1j.cli;

import io.mm1j.Mm1Exception;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * {@code --devices} and {@code --mixed-precision} for the trainers (a picocli mixin): shorthands for the run-config
 * keys {@code train.devices} (data-parallel replicas, {@code train.DataParallel}) and {@code train.mixed_precision}
 * ({@code train.MixedPrecision}).
 */
public final class TrainDevicesOption {
    @Option(names = "--devices", split = ",", description = "Train data-parallel over these devices, one replica "
            + "each, e.g. cuda:0,cuda:1 (sets train.devices; the first holds the optimizer).")
    List<String> devices;

    @Option(names = "--mixed-precision", description = "bf16, fp16 or none: linear layers compute in BF16/FP16 with "
            + "FP32 master weights, GPU only (sets train.mixed_precision).")
    String mixedPrecision;

    /** Adds the keys given on the command line to {@code shorthand}. */
    void addTo(Map<String, String> shorthand) {
        if (devices != null) {
            StringBuilder json = new StringBuilder("[");
            for (String d : devices) {
                if (!d.matches("[A-Za-z0-9:]+")) {
                    throw new Mm1Exception("--devices: invalid device '" + d + "'");
                }
                json.append(json.length() > 1 ? "," : "").append('"').append(d).append('"');
            }
            shorthand.put("train.devices", json.append(']').toString());
        }
        if (mixedPrecision != null) {
            shorthand.put("train.mixed_precision", "\"" + mixedPrecision.replace("\"", "") + "\"");
        }
    }
}
