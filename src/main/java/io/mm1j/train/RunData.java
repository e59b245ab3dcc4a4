package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.ImageStore;
import io.mm1j.data.InterleavedReader;
import io.mm1j.data.LlavaReader;
import io.mm1j.data.MixtureSampler;
import io.mm1j.data.Sample;
import io.mm1j.data.SkipReport;
import io.mm1j.data.SynthWriter;
import io.mm1j.data.TextReader;
import io.mm1j.data.VqaReader;
import io.mm1j.data.WebDatasetReader;
import io.mm1j.tokenizer.BpeTrainer;
import io.mm1j.tokenizer.SpecialTokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The data of a run ({@code data.*} of {@link RunConfig}): named, weighted sources for training and validation,
 * opened through the same readers as {@code mm1 data check}.
 *
 * <ul>
 *   <li>{@code data.sources} null (or a source of format {@code synthetic}): the synthetic world, written once into
 *       the run's {@code data/} folder by {@link SynthWriter} and read back through the COCO, mmc4 and text readers,
 *       mixed as MM1's 45% interleaved / 45% captions / 10% text; its own val split is the validation data.</li>
 *   <li>Other sources: a seeded split by sample id puts {@code data.val_fraction} of each dataset into validation;
 *       for a text source the last fraction of its chunks is validation.</li>
 * </ul>
 */
public final class RunData {
    /**
     * Most characters per text-only sample (a chunk of a plain text file). The packer ends a batch at a sample
     * boundary and drops the unplaced rest of a sample that started in it (that is what makes resume exact), so a
     * chunk must be small against a batch: about two rows of bytes, half a row of BPE tokens. Larger chunks
     * (2,000 characters before) threw away most of a text corpus at small batch sizes.
     */
    static int textChunk(RunConfig rc) {
        return Math.max(256, 2 * rc.integer("data.seq_len"));
    }

    /** One named source with train and validation streams. */
    public record Source(String name, String format, double weight, Supplier<Iterator<Sample>> train,
                         Supplier<Iterator<Sample>> val) {}

    private RunData() {}

    /** The sources of a run whose files live under {@code runDir} (the synthetic world is written there). */
    public static List<Source> sources(RunConfig rc, Path runDir, int imageSize) {
        JsonNode list = rc.node("data.sources");
        long seed = rc.integer("train.seed");
        double valFraction = rc.data("data.val_fraction");
        List<Source> out = new ArrayList<>();
        if (list.isNull() || list.isMissingNode()) {
            return synthetic(syntheticDir(rc, runDir), rc.integer("data.synthetic_images"), imageSize, seed, 1.0,
                    textChunk(rc), syntheticMix(rc), captionStyle(rc));
        }
        for (int i = 0; i < list.size(); i++) {
            JsonNode s = list.get(i);
            String fmt = s.get("format").asText();
            double weight = s.has("weight") ? s.get("weight").asDouble() : 1.0;
            String where = "data.sources[" + i + "]";
            if (fmt.equals("synthetic")) {
                out.addAll(synthetic(syntheticDir(rc, runDir), rc.integer("data.synthetic_images"), imageSize, seed,
                        weight, textChunk(rc), syntheticMix(rc), captionStyle(rc)));
                continue;
            }
            String name = s.has("name") ? s.get("name").asText() : fmt;
            Path path = Path.of(s.get("path").asText());
            Path images = s.has("images") ? Path.of(s.get("images").asText()) : null;
            if (!Files.exists(path)) {
                throw new Mm1Exception(where + ".path: " + path + " not found");
            }
            if (images != null && !Files.isDirectory(images)) {
                throw new Mm1Exception(where + ".images: " + images + " is not a folder");
            }
            Supplier<Iterator<Sample>> all = reader(fmt, path, images, where, textChunk(rc), true);
            if (fmt.equals("text")) {
                long chunks = count(all);
                long valChunks = Math.round(chunks * valFraction);
                long trainChunks = chunks - valChunks;
                if (trainChunks < 1 || (valFraction > 0 && valChunks < 1)) {
                    throw new Mm1Exception(where + ".path: " + path + " has " + chunks + " text chunk(s) (split at "
                            + "blank lines, about " + textChunk(rc) + " characters each); data.val_fraction "
                            + valFraction + " leaves " + trainChunks + " for training and " + valChunks
                            + " for validation: use a longer file or another val_fraction");
                }
                out.add(new Source(name, fmt, weight, () -> limit(all.get(), 0, trainChunks),
                        () -> limit(all.get(), trainChunks, chunks)));
            } else {
                out.add(new Source(name, fmt, weight, () -> split(all.get(), seed, valFraction, false),
                        () -> split(all.get(), seed, valFraction, true)));
            }
        }
        return out;
    }

    /** Files above this size are fingerprinted by their size and first and last {@link #EDGE} bytes. */
    static final long WHOLE_FILE_LIMIT = 64L << 20;
    static final int EDGE = 8 << 20;

    /**
     * A fingerprint of each listed source's data ({@code data.sources[i]} → hex SHA-256), for refusing a resume
     * whose data changed: a {@code path} file by its content (a file over 64 MB: its size and its first and last 8
     * MB), a folder ({@code path} or {@code images}) by the relative name and size of every file in it. Synthetic
     * sources are absent (their world is rebuilt from the config), and so is a path that does not exist (the run
     * reports that itself).
     */
    public static com.fasterxml.jackson.databind.node.ObjectNode fingerprints(RunConfig rc) {
        com.fasterxml.jackson.databind.node.ObjectNode out = com.fasterxml.jackson.databind.node.JsonNodeFactory
                .instance.objectNode();
        JsonNode list = rc.node("data.sources");
        for (int i = 0; i < list.size(); i++) {
            JsonNode s = list.get(i);
            if (s.path("format").asText().equals("synthetic") || !s.hasNonNull("path")) {
                continue;
            }
            String where = "data.sources[" + i + "]";
            if (!Files.exists(Path.of(s.get("path").asText()))
                    || s.hasNonNull("images") && !Files.isDirectory(Path.of(s.get("images").asText()))) {
                continue; // the run reports the missing path itself
            }
            java.security.MessageDigest md = sha256();
            for (String key : new String[] {"path", "images"}) {
                if (!s.hasNonNull(key) || !Files.exists(Path.of(s.get(key).asText()))) {
                    continue;
                }
                md.update((key + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                digest(md, Path.of(s.get(key).asText()), where + "." + key);
            }
            out.put(where, java.util.HexFormat.of().formatHex(md.digest()));
        }
        return out;
    }

    private static java.security.MessageDigest sha256() {
        try {
            return java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void digest(java.security.MessageDigest md, Path p, String where) {
        try {
            if (Files.isDirectory(p)) {
                p = p.toRealPath(); // a linked folder: walk what it points to
                List<Path> files;
                try (Stream<Path> w = Files.walk(p, java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
                    files = w.filter(Files::isRegularFile).sorted().toList();
                }
                for (Path f : files) {
                    md.update((p.relativize(f) + "\0" + Files.size(f) + "\n")
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                return;
            }
            long size = Files.size(p);
            md.update(Long.toString(size).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p)) {
                if (size <= WHOLE_FILE_LIMIT) {
                    update(md, ch, 0, size);
                } else {
                    update(md, ch, 0, EDGE);
                    update(md, ch, size - EDGE, EDGE);
                }
            }
        } catch (IOException e) {
            throw new Mm1Exception(where + ": " + p + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static void update(java.security.MessageDigest md, java.nio.channels.FileChannel ch, long from,
                               long length) throws IOException {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(1 << 16);
        long pos = from;
        long end = from + length;
        while (pos < end) {
            buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
            int n = ch.read(buf, pos);
            if (n < 0) {
                break;
            }
            buf.flip();
            md.update(buf);
            pos += n;
        }
    }

    /**
     * Where the synthetic world lives: the run's {@code data/}, or {@code data.synthetic_dir} — a folder several runs
     * share (written once by the first; a world made with other settings there is an error, as in a run folder).
     */
    static Path syntheticDir(RunConfig rc, Path runDir) {
        String shared = rc.text("data.synthetic_dir");
        return shared == null ? runDir.resolve("data") : Path.of(shared);
    }

    /** {@code data.synthetic_mix}: the interleaved / captions / text weights, MM1's 45/45/10 when null. */
    static List<Double> syntheticMix(RunConfig rc) {
        JsonNode m = rc.node("data.synthetic_mix");
        if (m.isNull() || m.isMissingNode()) {
            return MixtureSampler.MM1_WEIGHTS;
        }
        List<Double> w = new ArrayList<>();
        m.forEach(x -> w.add(x.asDouble()));
        return w;
    }

    /** {@code data.synthetic_captions}: the train split's caption style. */
    static SynthWriter.CaptionStyle captionStyle(RunConfig rc) {
        return SynthWriter.CaptionStyle.of(rc.text("data.synthetic_captions"));
    }

    /** The synthetic world's three sources ({@code mix} within {@code weight}), written once under {@code dir}. */
    static List<Source> synthetic(Path dir, int images, int imageSize, long seed, double weight, int chunk,
                                  List<Double> w, SynthWriter.CaptionStyle style) {
        ensureSynthetic(dir, images, imageSize, seed, style); // w: interleaved, captions, text
        return List.of(
                new Source("interleaved", "mmc4", weight * w.get(0), () -> interleaved(dir, "train"),
                        () -> interleaved(dir, "val")),
                new Source("captions", "coco", weight * w.get(1), () -> captions(dir, "train"),
                        () -> captions(dir, "val")),
                new Source("text", "text", weight * w.get(2), () -> text(dir, "train", chunk),
                        () -> text(dir, "val", chunk)));
    }

    private static Iterator<Sample> interleaved(Path dir, String split) {
        return new InterleavedReader(dir.resolve("interleaved/" + split + ".jsonl"),
                ImageStore.open(dir.resolve("interleaved/images/" + split)), SkipReport.lenient());
    }

    private static Iterator<Sample> captions(Path dir, String split) {
        return new CocoCaptionsReader(dir.resolve("coco/captions_" + split + ".json"), dir.resolve("images/" + split),
                SkipReport.lenient());
    }

    private static Iterator<Sample> text(Path dir, String split, int chunk) {
        return new TextReader(dir.resolve("text/" + split + ".txt"), chunk, SkipReport.lenient());
    }

    /**
     * Writes the synthetic world into {@code dir} unless a complete copy with the same settings is there (a resumed
     * run reuses it). Staged and renamed, so a killed run never leaves a half-written data set behind.
     */
    static void ensureSynthetic(Path dir, int images, int imageSize, long seed) {
        ensureSynthetic(dir, images, imageSize, seed, SynthWriter.CaptionStyle.PLAIN);
    }

    /** {@link #ensureSynthetic(Path, int, int, long)} with the train split's caption style. */
    public static void ensureSynthetic(Path dir, int images, int imageSize, long seed, SynthWriter.CaptionStyle style) {
        Path manifest = dir.resolve("manifest.json");
        if (Files.isRegularFile(manifest)) {
            try {
                JsonNode m = RunConfig.JSON.readTree(manifest.toFile());
                if (m.path("images").asInt() == images && m.path("size").asInt() == imageSize
                        && m.path("seed").asLong() == seed
                        && m.path("captionStyle").asText("plain").equals(style.json())) {
                    return;
                }
            } catch (IOException e) {
                throw new Mm1Exception(manifest + ": unreadable (" + e.getMessage() + ")", e);
            }
            throw new Mm1Exception(dir + ": holds synthetic data made with other settings (see " + manifest + ")");
        }
        SynthWriter.write(dir, images, imageSize, seed, false, style); // staged and renamed by the writer
    }

    /** A reader for one source (re-openable: each call starts from the beginning). */
    static Supplier<Iterator<Sample>> reader(String fmt, Path path, Path images, String where, int chunk) {
        return reader(fmt, path, images, where, chunk, false);
    }

    /**
     * {@link #reader(String, Path, Path, String, int)}; {@code keepTokens}: {@code mm1 data shard}'s token ids come
     * along ({@link Sample.Pretokenized}, for an encoder that knows its tokenizer's hash).
     */
    static Supplier<Iterator<Sample>> reader(String fmt, Path path, Path images, String where, int chunk,
                                             boolean keepTokens) {
        return switch (fmt) {
            case "coco" -> () -> new CocoCaptionsReader(path, requireImages(images, where), SkipReport.lenient());
            case "mmc4", "obelics" -> () -> new InterleavedReader(path, images == null ? null : ImageStore.open(images),
                    SkipReport.lenient());
            case "text" -> () -> new TextReader(path, chunk, SkipReport.lenient());
            case "llava" -> () -> new LlavaReader(path, requireImages(images, where), SkipReport.lenient());
            case "vqa" -> () -> new VqaReader(path, annotations(path, where), requireImages(images, where),
                    SkipReport.lenient());
            case "wds" -> () -> new WebDatasetReader(shards(path, where), SkipReport.lenient(), keepTokens);
            default -> throw new Mm1Exception(where + ".format: unsupported '" + fmt + "'");
        };
    }

    private static Path requireImages(Path images, String where) {
        if (images == null) {
            throw new Mm1Exception(where + ".images: this format needs the image folder");
        }
        return images;
    }

    /** VQAv2 ships questions and annotations as two files: {@code …questions….json} → {@code …annotations….json}. */
    private static Path annotations(Path questions, String where) {
        String name = questions.getFileName().toString();
        if (!name.contains("questions")) {
            throw new Mm1Exception(where + ".path: a VQA source names its questions file (…questions….json); its "
                    + "annotations file is found by replacing 'questions' with 'annotations'");
        }
        Path a = questions.resolveSibling(name.replace("questions", "annotations"));
        if (!Files.isRegularFile(a)) {
            throw new Mm1Exception(where + ": annotations file " + a + " not found");
        }
        return a;
    }

    private static List<Path> shards(Path path, String where) {
        if (Files.isRegularFile(path)) {
            return List.of(path);
        }
        try (Stream<Path> s = Files.list(path)) {
            List<Path> tars = s.filter(p -> p.getFileName().toString().endsWith(".tar")).sorted().toList();
            if (tars.isEmpty()) {
                throw new Mm1Exception(where + ".path: no .tar shards in " + path);
            }
            return tars;
        } catch (IOException e) {
            throw new Mm1Exception(where + ".path: cannot list " + path + ": " + e.getMessage(), e);
        }
    }

    private static long count(Supplier<Iterator<Sample>> open) {
        Iterator<Sample> it = open.get();
        long n = 0;
        try {
            while (it.hasNext()) {
                it.next();
                n++;
            }
        } finally {
            closeQuietly(it);
        }
        return n;
    }

    /** Samples [from, to) of a stream. */
    private static Iterator<Sample> limit(Iterator<Sample> it, long from, long to) {
        for (long i = 0; i < from && it.hasNext(); i++) {
            it.next();
        }
        return new Filtered(it) {
            long index = from;

            @Override
            boolean keep(Sample s) {
                return index++ < to;
            }

            @Override
            boolean exhausted() {
                return index >= to;
            }
        };
    }

    /** The train or validation part of a dataset: a seeded hash of each sample id against the fraction. */
    static Iterator<Sample> split(Iterator<Sample> it, long seed, double valFraction, boolean val) {
        return new Filtered(it) {
            @Override
            boolean keep(Sample s) {
                return isVal(s.id(), seed, valFraction) == val;
            }
        };
    }

    /** Whether sample {@code id} belongs to validation (splitmix64 of the id's hash and the seed). */
    static boolean isVal(String id, long seed, double fraction) {
        return io.mm1j.data.SplitMix64.uniform(seed * 0x9E3779B97F4A7C15L + id.hashCode()) < fraction;
    }

    /** An iterator that keeps the samples {@link #keep} accepts and closes the underlying reader. */
    private abstract static class Filtered implements Iterator<Sample>, AutoCloseable {
        private final Iterator<Sample> in;
        private Sample next;

        Filtered(Iterator<Sample> in) {
            this.in = in;
        }

        abstract boolean keep(Sample s);

        boolean exhausted() {
            return false;
        }

        @Override
        public boolean hasNext() {
            while (next == null && !exhausted() && in.hasNext()) {
                Sample s = in.next();
                if (keep(s)) {
                    next = s;
                }
            }
            return next != null;
        }

        @Override
        public Sample next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            Sample s = next;
            next = null;
            return s;
        }

        @Override
        public void close() {
            closeQuietly(in);
        }
    }

    static void closeQuietly(Object o) {
        if (o instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception ignored) {
                // readers hold read handles only
            }
        }
    }

    /**
     * Text to train a BPE tokenizer on: the text of the first samples of every training source (captions,
     * documents' sentences, text chunks, questions and answers), up to {@code maxChars}.
     */
    public static String tokenizerCorpus(List<Source> sources, int maxChars) {
        StringBuilder sb = new StringBuilder();
        int per = maxChars / Math.max(1, sources.size());
        for (Source s : sources) {
            Iterator<Sample> it = s.train().get();
            int start = sb.length();
            try {
                while (it.hasNext() && sb.length() - start < per) {
                    appendText(it.next(), sb);
                }
            } finally {
                closeQuietly(it);
            }
        }
        return sb.toString();
    }

    private static void appendText(Sample sample, StringBuilder sb) {
        Sample s = Sample.Pretokenized.unwrap(sample);
        if (s instanceof Sample.Caption c) {
            c.captions().forEach(x -> sb.append(x).append('\n'));
        } else if (s instanceof Sample.Interleaved d) {
            d.parts().stream().filter(p -> p.text() != null).forEach(p -> sb.append(p.text()).append('\n'));
        } else if (s instanceof Sample.Text t) {
            sb.append(t.text()).append('\n');
        } else if (s instanceof Sample.Conversation c) {
            c.turns().forEach(t -> sb.append(t.text().replace(Sample.Conversation.IMAGE_TAG, "")).append('\n'));
        } else if (s instanceof Sample.Vqa v) {
            sb.append("Question: ").append(v.question()).append(" Answer: ").append(v.answer()).append('\n');
        }
    }

    /**
     * The vocabulary the run's tokenizer will have, known before any data is read: the pretrained LLM's (its
     * tokenizer plus mm1j's roles), the byte tokenizer's 264, a tokenizer.json's own size, or the size asked of a
     * trained one ({@code defaultVocab} when not given; training may stop below it on a small corpus).
     */
    public static int tokenizerVocab(RunConfig rc, int defaultVocab) {
        Path llm = PretrainedParts.llmFolder(rc);
        if (llm != null) {
            return PretrainedParts.runVocab(llm);
        }
        JsonNode tok = rc.node("tokenizer");
        if (tok.isTextual() && tok.asText().equals("bytes")) {
            return SpecialTokens.COUNT + 256;
        }
        if (tok.isTextual()) {
            Path f = Path.of(tok.asText());
            if (!Files.isRegularFile(f)) {
                throw new Mm1Exception("tokenizer: " + f + " not found");
            }
            try (io.mm1j.tokenizer.Tokenizer t = io.mm1j.tokenizer.Tokenizer.load(f)) {
                return t.vocabSize();
            }
        }
        JsonNode v = tok.path("train").path("vocab_size");
        return v.isNull() || v.isMissingNode() ? defaultVocab : v.asInt();
    }

    /**
     * The run's tokenizer file: a copy of a given tokenizer.json, the byte-level vocabulary ({@code "bytes"}: the 256
     * byte values after mm1j's 8 special tokens, for character-level work) or a BPE trained on the training text.
     */
    public static void writeTokenizer(RunConfig rc, List<Source> sources, int defaultVocab, Path out) {
        JsonNode tok = rc.node("tokenizer");
        if (tok.isTextual() && tok.asText().equals("bytes")) {
            // any text will do: a vocabulary of exactly special tokens + 256 bytes leaves no room for a merge
            new BpeTrainer(SpecialTokens.COUNT + 256, 1).add("bytes").train().write(out);
        } else if (tok.isTextual()) {
            Path src = Path.of(tok.asText());
            if (!Files.isRegularFile(src)) {
                throw new Mm1Exception("tokenizer: " + src + " not found");
            }
            // fails early when it is not usable, naming the given file (not the copy: a temporary file, or the
            // folder of a run that is removed when it fails to start)
            io.mm1j.tokenizer.Tokenizer.load(src).close();
            try {
                Files.copy(src, out);
            } catch (IOException e) {
                throw new Mm1Exception("tokenizer: cannot copy " + src + ": " + e.getMessage(), e);
            }
        } else {
            JsonNode v = tok.path("train").path("vocab_size");
            int vocab = v.isNull() || v.isMissingNode() ? defaultVocab : v.asInt();
            if (vocab < SpecialTokens.COUNT + 256) {
                throw new Mm1Exception("tokenizer.train.vocab_size must be >= " + (SpecialTokens.COUNT + 256)
                        + " (special tokens + 256 bytes), got " + vocab);
            }
            new BpeTrainer(vocab, 2).add(tokenizerCorpus(sources, 4_000_000)).train().write(out);
        }
    }
}
