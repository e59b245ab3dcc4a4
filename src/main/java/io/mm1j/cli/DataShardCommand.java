package io.mm1j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.data.shard.ShardFilters;
import io.mm1j.data.shard.ShardJob;
import io.mm1j.data.shard.ShardPipeline;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 data shard}: any dataset mm1j reads → filtered, deduplicated WebDataset shards (Apache Beam). */
@Command(name = "shard", mixinStandardHelpOptions = true,
        description = {"Write a dataset as WebDataset tar shards with an Apache Beam pipeline: filter (image side, "
                + "aspect ratio, caption length; corrupt images counted), drop duplicate images (SHA-256 of the "
                + "file), and with --model resize images to its encoder input and tokenise text with its tokenizer. "
                + "Writes shard-NNNNNN.tar ({key}.jpg|png + {key}.json) and index.json (samples per shard, skipped "
                + "per reason). pretrain reads the folder as a source of format wds.",
                "Runners: direct (this machine; default), flink, spark (builds made with -Pflink / -Pspark; README)."})
final class DataShardCommand implements Callable<Integer> {
    @Option(names = "--input", required = true, description = "Dataset file, or a folder of .tar (wds), .jsonl "
            + "(mmc4/obelics) or .txt (text) files.")
    Path input;

    @Option(names = "--format", required = true, description = "coco, wds, mmc4, obelics, llava or text.")
    String format;

    @Option(names = "--out", required = true, description = "Output folder (must be absent or empty unless "
            + "--overwrite).")
    Path out;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder (only once the new shards are "
            + "complete).")
    boolean overwrite;

    @Option(names = "--images", description = "Image folder (coco, llava) or folder/tar (mmc4, obelics).")
    Path images;

    @Option(names = "--model", description = "Model folder: resize images to its encoder input (PNG) and store "
            + "token ids from its tokenizer.json next to the text.")
    Path model;

    @Option(names = "--runner", defaultValue = "direct", description = "direct, flink or spark (default "
            + "${DEFAULT-VALUE}).")
    String runner;

    @Option(names = "--shard-size", defaultValue = "1000", description = "Samples per shard (default "
            + "${DEFAULT-VALUE}).")
    int shardSize;

    @Option(names = "--workers", defaultValue = "2", description = "Parallelism: DirectRunner threads, Flink "
            + "parallelism, Spark local[N] (default ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--min-side", defaultValue = "64", description = "Smallest shorter image side in pixels "
            + "(default ${DEFAULT-VALUE}).")
    int minSide;

    @Option(names = "--max-aspect", defaultValue = "3.0", description = "Largest long/short side ratio (default "
            + "${DEFAULT-VALUE}).")
    double maxAspect;

    @Option(names = "--min-caption-chars", defaultValue = "5", description = "Shortest caption kept (default "
            + "${DEFAULT-VALUE}).")
    int minCaption;

    @Option(names = "--max-caption-chars", defaultValue = "1000", description = "Longest caption kept (default "
            + "${DEFAULT-VALUE}).")
    int maxCaption;

    @Option(names = "--text-chunk", defaultValue = "512", description = "Characters per text sample for format text "
            + "(split at blank lines; default ${DEFAULT-VALUE}).")
    int textChunk;

    @Option(names = "--beam", paramLabel = "OPTION", description = "A Beam pipeline option passed as it is, e.g. "
            + "--beam=--flinkMaster=host:8081 (repeatable).")
    List<String> beam = new ArrayList<>();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ShardJob job = new ShardJob(input, format, images, out, overwrite, model, runner, shardSize, workers,
                textChunk, new ShardFilters(minSide, maxAspect, minCaption, maxCaption), beam);
        ShardPipeline.Result r = ShardPipeline.run(job, System.err);
        JsonNode ix = r.index();
        PrintWriter w = spec.commandLine().getOut();
        w.printf(Locale.ROOT, "wrote %s: %d samples in %d shards (read %d; skipped %s; images dropped from documents "
                        + "%s; reader %s) in %.1f s, %.1f samples/s%n", r.out(), r.samples(), ix.get("shards").size(),
                ix.get("read").asLong(), ix.get("skipped"), ix.get("imagesDropped"), ix.get("reader"), r.seconds(),
                ix.get("read").asLong() / Math.max(1e-9, r.seconds()));
        w.flush();
        return 0;
    }
}
