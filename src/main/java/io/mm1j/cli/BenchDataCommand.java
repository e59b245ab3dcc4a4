package io.mm1j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.bench.DataBench;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 bench data}: data pipeline samples/s and tokens/s on synthesized data (register under bench). */
@Command(name = "data", mixinStandardHelpOptions = true,
        description = "Data pipeline throughput: read → decode → preprocess → tokenise → pack (synthetic data).")
public final class BenchDataCommand extends BenchTask {
    @Option(names = "--preset", defaultValue = "mini", description = "Preset (default ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--batch", defaultValue = "8", description = "Sequences per batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq", defaultValue = "256", description = "Tokens per sequence (default ${DEFAULT-VALUE}).")
    int seq;

    @Option(names = "--workers", defaultValue = "2", description = "Prefetch workers (default ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--batches", defaultValue = "100", description = "Timed batches (default ${DEFAULT-VALUE}).")
    int batches;

    @Option(names = "--images", defaultValue = "200", description = "Synthesized images (default ${DEFAULT-VALUE}).")
    int images;

    @Override
    ObjectNode report() throws IOException {
        Path dir = Files.createTempDirectory("mm1-bench-data");
        try {
            return DataBench.run(preset, dir, images, batch, seq, workers, batches);
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> {
                    try {
                        Files.delete(p);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            }
        }
    }
}
