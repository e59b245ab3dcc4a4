package io.mm1j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.Presets;
import picocli.CommandLine.Option;

/** How every {@code mm1 bench} command prints its report (a picocli mixin): JSON, or aligned "key value" lines. */
public final class BenchOptions {
    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    void print(ObjectNode report) {
        if (json) {
            System.out.println(Presets.toJson(report));
        } else {
            report.fields().forEachRemaining(f -> System.out.printf("%-24s %s%n", f.getKey(), f.getValue().asText()));
        }
    }
}
