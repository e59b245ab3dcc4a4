package io.mm1j.cli;

import io.mm1j.data.SynthWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 data synth}: the synthetic shapes world in real dataset formats. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Dataset tools.",
        subcommands = {DataCommand.Synth.class, DataCheckCommand.class, DataShardCommand.class})
public final class DataCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "synth", mixinStandardHelpOptions = true,
            description = "Generate the synthetic world (captions, interleaved documents, VQA, text) as COCO JSON + "
                    + "PNG, WebDataset tar, mmc4 JSONL, VQAv2 JSON, LLaVA JSON and plain text, split 80/10/10.")
    static final class Synth implements Callable<Integer> {
        @Option(names = "--out", required = true, description = "Output folder (created; must be absent or empty "
                + "unless --overwrite).")
        Path out;

        @Option(names = "--overwrite", description = "Replace a non-empty --out folder (only once the new data is "
                + "complete).")
        boolean overwrite;

        @Option(names = "--images", defaultValue = "1000", description = "Caption/VQA images (default ${DEFAULT-VALUE}).")
        int images;

        @Option(names = "--size", defaultValue = "64", description = "Image side in pixels (default ${DEFAULT-VALUE}).")
        int size;

        @Option(names = "--seed", defaultValue = "0", description = "Seed (default ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--small-text", description = "Draw signs in small 5×7-pixel letters and ask about \"the "
                + "small sign\": questions that need high-resolution input (MM1 §3.4).")
        boolean smallText;

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            SynthWriter.Summary s = SynthWriter.write(out, images, size, seed, overwrite, smallText);
            spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s: %d images, %d documents (%d images), %d questions, %d text "
                    + "documents%n", s.out(), s.images(), s.documents(), s.documentImages(), s.questions(), s.texts());
            spec.commandLine().getOut().flush();
            return 0;
        }
    }
}
