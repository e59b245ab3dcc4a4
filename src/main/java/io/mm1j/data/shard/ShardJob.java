package io.mm1j.data.shard;

import io.mm1j.Mm1Exception;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * One {@code mm1 data shard} run.
 *
 * @param input     a dataset file, or a folder of them ({@code .tar} for wds, {@code .jsonl} for mmc4/OBELICS,
 *                  {@code .txt} for text), each a unit of parallel reading
 * @param format    coco, wds, mmc4, obelics, llava or text (the readers of {@code data check} and {@code pretrain})
 * @param images    the image folder (coco, llava; folder or tar for mmc4/OBELICS), or null
 * @param out       the output folder (index.json and shard-NNNNNN.tar)
 * @param model     a model folder whose encoder resolution and tokenizer to apply, or null
 * @param runner    direct, flink or spark
 * @param shardSize samples per shard (the last shard holds the rest)
 * @param workers   parallelism (DirectRunner threads, Flink parallelism, Spark local[N])
 * @param textChunk characters per text sample for format text (split at blank lines, as {@code pretrain} does)
 * @param beamArgs  further Beam pipeline options ({@code --flinkMaster=host:8081}, …), passed as they are
 */
public record ShardJob(Path input, String format, Path images, Path out, boolean overwrite, Path model, String runner,
                       int shardSize, int workers, int textChunk, ShardFilters filters, List<String> beamArgs) {
    public static final Set<String> FORMATS = Set.of("coco", "wds", "mmc4", "obelics", "llava", "text");
    public static final Set<String> RUNNERS = Set.of("direct", "flink", "spark");

    public ShardJob {
        if (!FORMATS.contains(format)) {
            throw new Mm1Exception("--format: '" + format + "' is not one of " + FORMATS.stream().sorted().toList());
        }
        if (!RUNNERS.contains(runner)) {
            throw new Mm1Exception("--runner: '" + runner + "' is not one of direct, flink, spark");
        }
        if (shardSize < 1) {
            throw new Mm1Exception("--shard-size must be >= 1, got " + shardSize);
        }
        if (workers < 1) {
            throw new Mm1Exception("--workers must be >= 1, got " + workers);
        }
        if (textChunk < 1) {
            throw new Mm1Exception("--text-chunk must be >= 1, got " + textChunk);
        }
        if (images == null && (format.equals("coco") || format.equals("llava"))) {
            throw new Mm1Exception("--images: format " + format + " needs the image folder its file names are "
                    + "relative to");
        }
        beamArgs = List.copyOf(beamArgs);
    }
}
