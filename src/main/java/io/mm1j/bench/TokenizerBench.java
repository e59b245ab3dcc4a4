package io.mm1j.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.Presets;
import io.mm1j.Mm1Exception;
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
 * reaches {@code megabytes}. Run: {@code mm1 bench tokenizer [--input FILES] [--megabytes MB] [--vocab-size N]};
 * without files the corpus is the synthetic world's text documents.
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
        return PeakRss.addTo(o);
    }

    /**
     * A corpus whose word frequencies follow Zipf's law (s = 1.07) over {@code lexicon} pseudo-words built from
     * syllables, with punctuation and line breaks: the distinct-word count and frequency skew that make BPE
     * training cost what it costs on natural text, without shipping a text corpus.
     */
    public static StringBuilder zipfCorpus(double megabytes, int lexicon, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        String[] onsets = {"", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st",
            "tr", "pl", "ch", "sh", "th", "gr"};
        String[] vowels = {"a", "e", "i", "o", "u", "ai", "ea", "ou", "y"};
        String[] codas = {"", "", "n", "s", "t", "r", "l", "ng", "ck", "m"};
        String[] words = new String[lexicon];
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int i = 0; i < lexicon; ) {
            StringBuilder w = new StringBuilder();
            int syllables = 1 + r.nextInt(1 + Math.min(3, i / 500));
            for (int k = 0; k < syllables; k++) {
                w.append(onsets[r.nextInt(onsets.length)]).append(vowels[r.nextInt(vowels.length)])
                        .append(codas[r.nextInt(codas.length)]);
            }
            if (seen.add(w.toString())) {
                words[i++] = w.toString();
            }
        }
        double[] cdf = new double[lexicon];
        double sum = 0;
        for (int i = 0; i < lexicon; i++) {
            sum += 1.0 / Math.pow(i + 1, 1.07);
            cdf[i] = sum;
        }
        StringBuilder sb = new StringBuilder();
        long want = (long) (megabytes * 1e6);
        int sentence = 0;
        while (sb.length() < want) {
            int idx = java.util.Arrays.binarySearch(cdf, r.nextDouble() * sum);
            String w = words[Math.min(lexicon - 1, idx < 0 ? -idx - 1 : idx)];
            sb.append(sentence == 0 ? Character.toUpperCase(w.charAt(0)) + w.substring(1) : w);
            if (++sentence > 6 + r.nextInt(14)) {
                sb.append(r.nextInt(4) == 0 ? ".\n" : ". ");
                sentence = 0;
            } else {
                sb.append(r.nextInt(12) == 0 ? ", " : " ");
            }
        }
        return sb;
    }
}
