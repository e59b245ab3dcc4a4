package io.mm1j.data.shard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.Mm1Config;
import io.mm1j.eval.EvalReport;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.JsonFiles;
import io.mm1j.io.OutputDir;
import io.mm1j.mllm.FolderInfo;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.coders.KvCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.coders.VarIntCoder;
import org.apache.beam.sdk.coders.VarLongCoder;
import org.apache.beam.sdk.metrics.MetricNameFilter;
import org.apache.beam.sdk.metrics.MetricQueryResults;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.metrics.MetricsFilter;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.transforms.Create;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.Flatten;
import org.apache.beam.sdk.transforms.GroupByKey;
import org.apache.beam.sdk.transforms.Keys;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.Reshuffle;
import org.apache.beam.sdk.transforms.Sum;
import org.apache.beam.sdk.transforms.View;
import org.apache.beam.sdk.transforms.WithKeys;
import org.apache.beam.sdk.transforms.join.CoGbkResult;
import org.apache.beam.sdk.transforms.join.CoGroupByKey;
import org.apache.beam.sdk.transforms.join.KeyedPCollectionTuple;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionList;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.PCollectionView;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;
import org.joda.time.Duration;

/**
 * {@code mm1 data shard}: an Apache Beam pipeline from a dataset in any format mm1j reads to WebDataset shards.
 * <pre>
 * input files ─Read (mm1j readers)─▶ samples ─Reshuffle─▶ Prepare (hash, decode, filter, resize) ─┬─▶ Finish ─▶ …
 *                                                     image hashes ─GroupByKey─▶ duplicates (side input) ─┘
 * … keys ─GroupByKey (one key)─▶ sorted, cut every shardSize ─CoGroupByKey with samples─▶ GroupByKey per shard ─▶ tar
 * every stage's counts ─Flatten─Sum per name─▶ .stats.json ─(launcher)─▶ index.json
 * </pre>
 * Dedup keeps the first copy of an image in input order (smallest key); shards hold exactly {@code shardSize}
 * samples in key order, so the output is the same whatever the runner or worker count. Shards are written into the
 * staging folder of an {@link OutputDir}, committed by the launcher when the pipeline has finished: on a cluster,
 * {@code --out} must be on a file system that the workers and the launcher share.
 */
public final class ShardPipeline {
    static final String NAMESPACE = "mm1.data.shard";
    private static final String STATS_FILE = ".stats.json";

    private ShardPipeline() {}

    /** What a run wrote: its index.json as a tree, and the wall time. */
    public record Result(Path out, JsonNode index, double seconds) {
        public long samples() {
            return index.path("samples").asLong();
        }
    }

    public static Result run(ShardJob job, PrintStream progress) {
        List<Path> units = units(job);
        int outH = 0;
        int outW = 0;
        String tokenizerFile = null;
        String tokenizerSha = null;
        if (job.model() != null) {
            Mm1Config cfg = FolderInfo.config(job.model());
            if (cfg.vision() != null) {
                int s = cfg.vision().imageSize();
                outH = cfg.highRes() == null ? s : s * cfg.highRes().rows(); // MM1 §3: the grid covers rows × cols
                outW = cfg.highRes() == null ? s : s * cfg.highRes().cols();
            }
            Path tok = job.model().resolve("tokenizer.json");
            if (!Files.isRegularFile(tok)) {
                throw new Mm1Exception("--model " + job.model() + ": no tokenizer.json");
            }
            tokenizerFile = tok.toAbsolutePath().toString();
            tokenizerSha = EvalReport.sha256(tok);
        }
        long t0 = System.nanoTime();
        OutputDir.refuseOverInput(job.out(), "--out", job.input(), "--input");
        try (OutputDir out = OutputDir.create(job.out(), job.overwrite(), "--out")) {
            Path staging = out.staging().toAbsolutePath();
            Pipeline p = Pipeline.create(options(job));
            build(p, job, units, staging, outH, outW, tokenizerFile, tokenizerSha);
            PipelineResult result = p.run();
            await(result, progress);
            Map<String, Long> stats = readStats(staging.resolve(STATS_FILE));
            ObjectNode index = index(job, units, stats, outH, outW, tokenizerSha);
            if (index.path("samples").asLong() == 0) {
                throw new Mm1Exception(job.input() + ": no sample survived (read " + stats.getOrDefault(ShardStats.READ,
                        0L) + "; skipped " + index.get("skipped") + ", reader " + index.get("reader") + ")");
            }
            Files.delete(staging.resolve(STATS_FILE));
            AtomicFiles.write(staging.resolve("index.json"), o -> o.write(JsonFiles.MAPPER
                    .writerWithDefaultPrettyPrinter().writeValueAsBytes(index)));
            out.commit();
            return new Result(job.out(), index, (System.nanoTime() - t0) / 1e9);
        } catch (IOException e) {
            throw new Mm1Exception(job.out() + ": " + e.getMessage(), e);
        }
    }

    /** The input files, each read by one worker: a file, or a folder's files of the format's extension. */
    static List<Path> units(ShardJob job) {
        Path in = job.input();
        if (Files.isRegularFile(in)) {
            return List.of(in.toAbsolutePath());
        }
        if (!Files.isDirectory(in)) {
            throw new Mm1Exception("--input " + in + ": not found");
        }
        String ext = switch (job.format()) {
            case "wds" -> ".tar";
            case "mmc4", "obelics" -> ".jsonl";
            case "text" -> ".txt";
            default -> throw new Mm1Exception("--input " + in + ": format " + job.format() + " reads one file (its "
                    + "JSON), not a folder");
        };
        try (Stream<Path> s = Files.list(in)) {
            List<Path> files = s.filter(f -> f.getFileName().toString().endsWith(ext) && Files.isRegularFile(f))
                    .map(Path::toAbsolutePath).sorted().toList();
            if (files.isEmpty()) {
                throw new Mm1Exception("--input " + in + ": no " + ext + " files");
            }
            return files;
        } catch (IOException e) {
            throw new Mm1Exception("--input " + in + ": cannot list: " + e.getMessage(), e);
        }
    }

    static PipelineOptions options(ShardJob job) {
        List<String> args = new ArrayList<>();
        switch (job.runner()) {
            case "direct" -> {
                args.add("--runner=DirectRunner");
                args.add("--targetParallelism=" + job.workers());
                args.add("--blockOnRun=false"); // the launcher polls, to show progress
                // the runner's checks re-encode and compare every element: useful in tests, 2x the work here
                defaultArg(args, job.beamArgs(), "--enforceImmutability", "false");
                defaultArg(args, job.beamArgs(), "--enforceEncodability", "false");
            }
            case "flink" -> {
                args.add("--runner=FlinkRunner");
                defaultArg(args, job.beamArgs(), "--parallelism", String.valueOf(job.workers()));
            }
            default -> {
                args.add("--runner=SparkRunner");
                defaultArg(args, job.beamArgs(), "--sparkMaster", "local[" + job.workers() + "]");
            }
        }
        args.addAll(job.beamArgs());
        try {
            return PipelineOptionsFactory.fromArgs(args.toArray(String[]::new)).withValidation().create();
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().contains("Unknown 'runner'")) {
                throw new Mm1Exception("--runner " + job.runner() + ": this build has no " + job.runner()
                        + " runner; build with mvn -P" + job.runner() + " -DskipTests package (README: Data "
                        + "preparation on a cluster)");
            }
            throw new Mm1Exception("Beam options " + args + ": " + e.getMessage(), e);
        }
    }

    private static void defaultArg(List<String> args, List<String> given, String name, String value) {
        if (given.stream().noneMatch(a -> a.startsWith(name + "="))) {
            args.add(name + "=" + value);
        }
    }

    static void build(Pipeline p, ShardJob job, List<Path> units, Path staging, int outH, int outW,
                      String tokenizerFile, String tokenizerSha) {
        KvCoder<String, Long> statCoder = KvCoder.of(StringUtf8Coder.of(), VarLongCoder.of());
        List<KV<Integer, String>> unitList = new ArrayList<>();
        for (int i = 0; i < units.size(); i++) {
            unitList.add(KV.of(i, units.get(i).toString()));
        }
        PCollectionTuple read = p
                .apply("Inputs", Create.of(unitList).withCoder(KvCoder.of(VarIntCoder.of(), StringUtf8Coder.of())))
                .apply("Read", ParDo.of(new ReadInput(job.format(), job.images() == null ? null
                        : job.images().toAbsolutePath().toString(), job.textChunk()))
                        .withOutputTags(ReadInput.ITEMS, TupleTagList.of(ShardStats.TAG)));
        read.get(ReadInput.ITEMS).setCoder(ShardItem.Coder.INSTANCE);
        read.get(ShardStats.TAG).setCoder(statCoder);

        PCollectionTuple prepared = read.get(ReadInput.ITEMS)
                .apply("Spread", Reshuffle.viaRandomKey()) // one reader's samples, many workers
                .apply("Prepare", ParDo.of(new PrepareImages(job.filters(), outH, outW))
                        .withOutputTags(PrepareImages.ITEMS, TupleTagList.of(ShardStats.TAG).and(PrepareImages.HASHES)));
        prepared.get(PrepareImages.ITEMS).setCoder(ShardItem.Coder.INSTANCE);
        prepared.get(ShardStats.TAG).setCoder(statCoder);
        prepared.get(PrepareImages.HASHES).setCoder(KvCoder.of(StringUtf8Coder.of(), StringUtf8Coder.of()));

        PCollectionView<Map<String, Iterable<Integer>>> duplicates = prepared.get(PrepareImages.HASHES)
                .apply("ByHash", GroupByKey.create())
                .apply("Duplicates", ParDo.of(new Duplicates()))
                .setCoder(KvCoder.of(StringUtf8Coder.of(), VarIntCoder.of()))
                .apply(View.asMultimap());

        TupleTag<KV<String, ShardItem>> finishedTag = new TupleTag<>() {};
        PCollectionTuple finished = prepared.get(PrepareImages.ITEMS)
                .apply("Finish", ParDo.of(new FinishSample(duplicates, tokenizerFile, tokenizerSha))
                        .withSideInputs(duplicates).withOutputTags(finishedTag, TupleTagList.of(ShardStats.TAG)));
        PCollection<KV<String, ShardItem>> items = finished.get(finishedTag)
                .setCoder(KvCoder.of(StringUtf8Coder.of(), ShardItem.Coder.INSTANCE));
        finished.get(ShardStats.TAG).setCoder(statCoder);

        PCollection<KV<String, Integer>> shardOf = items.apply("Keys", Keys.create())
                .apply("OneGroup", WithKeys.of(0)).setCoder(KvCoder.of(VarIntCoder.of(), StringUtf8Coder.of()))
                .apply("AllKeys", GroupByKey.create())
                .apply("AssignShards", ParDo.of(new AssignShards(job.shardSize())))
                .setCoder(KvCoder.of(StringUtf8Coder.of(), VarIntCoder.of()));
        TupleTag<ShardItem> itemTag = new TupleTag<>() {};
        TupleTag<Integer> shardTag = new TupleTag<>() {};
        PCollection<KV<String, Long>> written = KeyedPCollectionTuple.of(itemTag, items).and(shardTag, shardOf)
                .apply("Join", CoGroupByKey.create())
                .apply("ToShard", ParDo.of(new ToShard(itemTag, shardTag)))
                .setCoder(KvCoder.of(VarIntCoder.of(), ShardItem.Coder.INSTANCE))
                .apply("ByShard", GroupByKey.create())
                .apply("Write", ParDo.of(new WriteShard(staging.toString())))
                .setCoder(statCoder);

        PCollectionList.of(read.get(ShardStats.TAG)).and(prepared.get(ShardStats.TAG))
                .and(finished.get(ShardStats.TAG)).and(written)
                .and(p.apply("Seed", Create.of(KV.of(ShardStats.READ, 0L)).withCoder(statCoder)))
                .apply("AllStats", Flatten.pCollections())
                .apply("SumStats", Sum.longsPerKey())
                .apply("StatsGroup", WithKeys.of(0)).setCoder(KvCoder.of(VarIntCoder.of(), statCoder))
                .apply("CollectStats", GroupByKey.create())
                .apply("WriteStats", ParDo.of(new WriteStats(staging.resolve(STATS_FILE).toString())));
    }

    /** (hash, ["key#index", …]) → (key, index) for every copy after the first in key order. */
    static final class Duplicates extends DoFn<KV<String, Iterable<String>>, KV<String, Integer>> {
        @ProcessElement
        public void process(@Element KV<String, Iterable<String>> group, OutputReceiver<KV<String, Integer>> out) {
            List<KV<String, Integer>> refs = new ArrayList<>();
            for (String r : group.getValue()) {
                int hash = r.lastIndexOf('#');
                refs.add(KV.of(r.substring(0, hash), Integer.parseInt(r.substring(hash + 1))));
            }
            refs.sort(java.util.Comparator.comparing((KV<String, Integer> kv) -> kv.getKey())
                    .thenComparing(KV::getValue)); // input order: key, then position in the sample
            refs.subList(1, refs.size()).forEach(out::output);
        }
    }

    /** All surviving keys (one group) → (key, shard index): key order, cut every {@code shardSize}. */
    static final class AssignShards extends DoFn<KV<Integer, Iterable<String>>, KV<String, Integer>> {
        private final int shardSize;

        AssignShards(int shardSize) {
            this.shardSize = shardSize;
        }

        @ProcessElement
        public void process(@Element KV<Integer, Iterable<String>> all, OutputReceiver<KV<String, Integer>> out) {
            List<String> keys = new ArrayList<>();
            all.getValue().forEach(keys::add);
            keys.sort(null);
            for (int i = 0; i < keys.size(); i++) {
                out.output(KV.of(keys.get(i), i / shardSize));
            }
        }
    }

    static final class ToShard extends DoFn<KV<String, CoGbkResult>, KV<Integer, ShardItem>> {
        private final TupleTag<ShardItem> itemTag;
        private final TupleTag<Integer> shardTag;

        ToShard(TupleTag<ShardItem> itemTag, TupleTag<Integer> shardTag) {
            this.itemTag = itemTag;
            this.shardTag = shardTag;
        }

        @ProcessElement
        public void process(@Element KV<String, CoGbkResult> joined, OutputReceiver<KV<Integer, ShardItem>> out) {
            out.output(KV.of(joined.getValue().getOnly(shardTag), joined.getValue().getOnly(itemTag)));
        }
    }

    /** The summed counts → one JSON object, for the launcher to turn into index.json. */
    static final class WriteStats extends DoFn<KV<Integer, Iterable<KV<String, Long>>>, Void> {
        private final String file;

        WriteStats(String file) {
            this.file = file;
        }

        @ProcessElement
        public void process(@Element KV<Integer, Iterable<KV<String, Long>>> all) {
            ObjectNode o = JsonFiles.MAPPER.createObjectNode();
            Map<String, Long> sorted = new TreeMap<>();
            all.getValue().forEach(kv -> sorted.put(kv.getKey(), kv.getValue()));
            sorted.forEach(o::put);
            AtomicFiles.write(Path.of(file), os -> os.write(JsonFiles.MAPPER.writeValueAsBytes(o)));
        }
    }

    /** Waits for the pipeline, printing the samples prepared so far every 10 s; rethrows a stage's error. */
    private static void await(PipelineResult result, PrintStream progress) {
        long last = -1;
        try {
            while (true) {
                PipelineResult.State s = result.waitUntilFinish(Duration.standardSeconds(10));
                if (s != null && s.isTerminal()) {
                    if (s != PipelineResult.State.DONE) {
                        throw new Mm1Exception("data shard: pipeline ended " + s);
                    }
                    return;
                }
                long n = prepared(result);
                if (progress != null && n >= 0 && n != last) {
                    progress.println("data shard: " + n + " samples prepared");
                    last = n;
                }
            }
        } catch (RuntimeException e) { // PipelineExecutionException wraps a stage's error
            throw unwrap(e);
        }
    }

    private static long prepared(PipelineResult result) {
        try {
            MetricQueryResults q = result.metrics().queryMetrics(MetricsFilter.builder()
                    .addNameFilter(MetricNameFilter.named(NAMESPACE, "prepared")).build());
            Iterator<org.apache.beam.sdk.metrics.MetricResult<Long>> it = q.getCounters().iterator();
            return it.hasNext() ? it.next().getAttempted() : 0;
        } catch (UnsupportedOperationException e) {
            return -1; // the runner does not report metrics while running
        }
    }

    /** The {@link Mm1Exception} a stage threw (named file, record), or the failure wrapped in one. */
    static RuntimeException unwrap(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof Mm1Exception m) {
                return m;
            }
        }
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return new Mm1Exception("data shard: pipeline failed: " + root, e);
    }

    /** Counts every stage reported, by name. */
    private static Map<String, Long> readStats(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": the pipeline finished without writing its counts");
        }
        Map<String, Long> out = new TreeMap<>();
        JsonFiles.read(file).fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asLong()));
        return out;
    }

    static ObjectNode index(ShardJob job, List<Path> units, Map<String, Long> stats, int outH, int outW,
                            String tokenizerSha) {
        ObjectNode o = JsonFiles.MAPPER.createObjectNode();
        o.put("mm1j", "data shard");
        o.put("layout", io.mm1j.data.ShardSample.VERSION);
        o.put("format", job.format());
        o.put("input", job.input().toAbsolutePath().normalize().toString());
        o.put("inputFiles", units.size());
        if (job.model() != null) {
            o.put("model", job.model().toAbsolutePath().normalize().toString());
            if (outH > 0) {
                o.putArray("imageSize").add(outH).add(outW);
            }
            o.put("tokenizerSha256", tokenizerSha);
        }
        ObjectNode f = o.putObject("filters");
        f.put("minSide", job.filters().minSide()).put("maxAspect", job.filters().maxAspect())
                .put("minCaptionChars", job.filters().minCaptionChars())
                .put("maxCaptionChars", job.filters().maxCaptionChars());
        o.put("shardSize", job.shardSize());
        o.put("read", stats.getOrDefault(ShardStats.READ, 0L));
        long samples = 0;
        var shards = o.putArray("shards");
        ObjectNode skipped = JsonFiles.MAPPER.createObjectNode();
        ObjectNode dropped = JsonFiles.MAPPER.createObjectNode();
        ObjectNode reader = JsonFiles.MAPPER.createObjectNode();
        for (Map.Entry<String, Long> e : stats.entrySet()) {
            String k = e.getKey();
            if (k.startsWith(ShardStats.SHARD)) {
                String name = k.substring(ShardStats.SHARD.length());
                shards.addObject().put("name", name).put("samples", e.getValue())
                        .put("bytes", stats.getOrDefault(ShardStats.SHARD_BYTES + name, 0L));
                samples += e.getValue();
            } else if (k.startsWith(ShardStats.SKIPPED)) {
                skipped.put(k.substring(ShardStats.SKIPPED.length()), e.getValue());
            } else if (k.startsWith(ShardStats.IMAGES_DROPPED)) {
                dropped.put(k.substring(ShardStats.IMAGES_DROPPED.length()), e.getValue());
            } else if (k.startsWith(ShardStats.READER)) {
                reader.put(k.substring(ShardStats.READER.length()), e.getValue());
            }
        }
        o.put("samples", samples);
        o.set("skipped", skipped);
        o.set("imagesDropped", dropped);
        o.set("reader", reader);
        return o;
    }

    /** Counts a prepared sample for the launcher's progress line. */
    static void countPrepared() {
        Metrics.counter(NAMESPACE, "prepared").inc();
    }
}
