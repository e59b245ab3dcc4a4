package io.mm1j.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.data.Batch;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.DataPipeline;
import io.mm1j.data.ImageStore;
import io.mm1j.data.InterleavedReader;
import io.mm1j.data.MixtureSampler;
import io.mm1j.data.SampleEncoder;
import io.mm1j.data.SequencePacker;
import io.mm1j.data.SkipReport;
import io.mm1j.data.SynthWriter;
import io.mm1j.data.TextReader;
import io.mm1j.tokenizer.BpeTrainer;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.List;

/**
 * Data pipeline throughput (read → decode → preprocess → tokenise → pack) on synthesized data in the real formats,
 * with the preset's image size, image tokens and images per sequence and the MM1 45/45/10 mix. The issue asks for
 * ≥ 10× what {@code bench train-step} consumes for the same preset, so the pipeline never starves training.
 */
public final class DataBench {
    private DataBench() {}

    /**
     * @param dir     scratch folder for the synthesized data and tokenizer
     * @param batches timed batches (after two warm-up batches)
     */
    public static ObjectNode run(String preset, Path dir, int images, int batch, int seq, int workers, int batches) {
        Mm1Config cfg = Presets.load(preset);
        int size = cfg.vision().imageSize();
        SynthWriter.write(dir, images, size, 1);
        Path tokFile = dir.resolve("tokenizer.json");
        new BpeTrainer(Math.min(cfg.llm().vocabSize(), 2048), 2)
                .addFiles(List.of(dir.resolve("text/train.txt"))).train().write(tokFile);
        List<MixtureSampler.Source> sources = List.of(
                new MixtureSampler.Source("interleaved", MixtureSampler.MM1_WEIGHTS.get(0), () -> new InterleavedReader(
                        dir.resolve("interleaved/train.jsonl"), ImageStore.open(dir.resolve("interleaved/images/train")),
                        SkipReport.lenient())),
                new MixtureSampler.Source("captions", MixtureSampler.MM1_WEIGHTS.get(1), () -> new CocoCaptionsReader(
                        dir.resolve("coco/captions_train.json"), dir.resolve("images/train"), SkipReport.lenient())),
                new MixtureSampler.Source("text", MixtureSampler.MM1_WEIGHTS.get(2), () -> new TextReader(
                        dir.resolve("text/train.txt"), 1000, SkipReport.lenient())));
        SequencePacker.Config pc = new SequencePacker.Config(batch, seq, cfg.maxImagesPerSequence(),
                cfg.connector().imageTokens());
        try (Tokenizer tok = Tokenizer.load(tokFile);
             DataPipeline p = new DataPipeline(new MixtureSampler(sources, 1),
                     new SampleEncoder(tok::encode, SampleEncoder.resizeToUnit(size)), new SequencePacker(pc),
                     workers, 4)) {
            Batch first = null;
            for (int i = 0; i < 2; i++) {
                first = p.next();
            }
            long t0 = System.nanoTime();
            long trained = 0;
            long imagesSeen = 0;
            Batch last = first;
            for (int i = 0; i < batches; i++) {
                last = p.next();
                trained += last.trainedTokens();
                imagesSeen += last.images().size();
            }
            double sec = (System.nanoTime() - t0) / 1e9;
            long samples = last.cursor().step() - first.cursor().step();
            ObjectNode o = Presets.JSON.createObjectNode();
            o.put("benchmark", "data");
            o.put("preset", preset);
            o.put("cpus", Runtime.getRuntime().availableProcessors());
            o.put("workers", workers);
            o.put("batch", batch);
            o.put("seq", seq);
            o.put("imageSize", size);
            o.put("imageTokens", pc.imageTokens());
            o.put("batches", batches);
            o.put("seconds", sec);
            o.put("samplesPerSecond", samples / sec);
            o.put("tokensPerSecond", (double) batches * batch * seq / sec);
            o.put("trainedTokensPerSecond", trained / sec);
            o.put("imagesPerSecond", imagesSeen / sec);
            return PeakRss.addTo(o);
        }
    }
}
