package io.mm1j.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.Presets;
import io.mm1j.tensor.Mm1Exception;
import io.mm1j.tokenizer.BpeTrainer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * BPE training throughput: the target is a 4k vocabulary on 5 MB of text in under a minute on 2 cores.
 * The corpus is the given files, cycled (each repetition shifted by a line so it is not a verbatim copy) until it
 * reaches {@code megabytes}. Run: {@code java -cp … io.mm1j.bench.TokenizerBench [MB] [vocab] FILES…}.
 */
public final class TokenizerBench {
    private TokenizerBench() {}

    public static ObjectNode run(List<Path> files, double megabytes, int vocabSize) {
        StringBuilder corpus = new StringBuilder();
        List<String> texts = new ArrayList<>();
        for (Path f : files) {
            try {
                texts.add(Files.readString(f, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new Mm1Exception(f + ": cannot read: " + e.getMessage(), e);
            }
        }
        long want = (long) (megabytes * 1e6);
        for (int rep = 0; corpus.length() < want; rep++) {
            for (String t : texts) {
                String[] lines = t.split("\n");
                for (int i = 0; i < lines.length && corpus.length() < want; i++) {
                    corpus.append(lines[(i + rep) % lines.length]).append('\n');
                }
            }
        }
        String text = corpus.toString();
        double mb = text.getBytes(StandardCharsets.UTF_8).length / 1e6;
        long t0 = System.nanoTime();
        BpeTrainer.Result r = new BpeTrainer(vocabSize, 2).add(text).train();
        double sec = (System.nanoTime() - t0) / 1e9;
        ObjectNode o = Presets.JSON.createObjectNode();
        o.put("benchmark", "tokenizer-train");
        o.put("cpus", Runtime.getRuntime().availableProcessors());
        o.put("megabytes", mb);
        o.put("vocabSize", r.vocabSize());
        o.put("merges", r.merges().size());
        o.put("distinctWords", r.distinctWords());
        o.put("seconds", sec);
        o.put("mergeSeconds", r.seconds());
        o.put("megabytesPerSecond", mb / sec);
        return o;
    }

    public static void main(String[] args) {
        double mb = args.length > 0 ? Double.parseDouble(args[0]) : 5;
        int vocab = args.length > 1 ? Integer.parseInt(args[1]) : 4096;
        List<Path> files = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            files.add(Path.of(args[i]));
        }
        if (files.isEmpty()) {
            files.add(Path.of("../shared/data/text/tinyshakespeare.txt"));
            files.add(Path.of("../shared/data/text/tinystories_sample.txt"));
        }
        System.out.println(Presets.toJson(run(files, mb, vocab)));
    }
}
