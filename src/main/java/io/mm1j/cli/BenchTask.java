package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.Presets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * One {@code mm1 bench} command: it measures, returns a JSON report, and this prints it (with {@code --json} as
 * JSON, else one aligned "key value" line per field). Benchmarks only measure and report; the CLI prints.
 */
abstract class BenchTask implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    /** Runs the benchmark. */
    abstract ObjectNode report() throws Exception;

    @Override
    public final Integer call() throws Exception {
        ObjectNode report = report();
        if (json) {
            System.out.println(Presets.toJson(report));
        } else {
            report.fields().forEachRemaining(f -> System.out.printf("%-24s %s%n", f.getKey(), f.getValue().asText()));
        }
        return 0;
    }

    /** A benchmark on tensors: it allocates in a root manager on {@code --device}, closed when it is done. */
    abstract static class OnDevice extends BenchTask {
        @Mixin
        DeviceOption device;

        abstract ObjectNode run(NDManager root);

        @Override
        final ObjectNode report() {
            try (NDManager root = device.root(0)) { // seed 0: benchmarks time, they do not compare values
                return run(root);
            }
        }
    }
}
