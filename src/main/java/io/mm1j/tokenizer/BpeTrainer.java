package io.mm1j.tokenizer;

import io.mm1j.io.AtomicFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.BoundedFiles;
import io.mm1j.io.Utf8;
import io.mm1j.tensor.SafeTensorsWriter;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Byte-level BPE training (Sennrich et al. 2016 over GPT-2's byte alphabet) that writes a standard Hugging Face
 * {@code tokenizer.json}: model BPE (vocab + merges), ByteLevel pre-tokenizer and decoder, and mm1j's
 * {@link SpecialTokens} as added tokens at ids 0..7. The 256 byte symbols follow at ids 8..263, so every UTF-8
 * string encodes and decodes exactly whatever was learnt.
 *
 * <p>Why it is fast: text is reduced to a table of distinct pre-tokens ("words") with their frequencies; pair
 * counts are kept per pair together with the words that contain it, and a priority queue (count desc, pair asc,
 * stale entries skipped lazily) yields the best pair. A merge rewrites only the words listed for that pair and
 * adjusts the counts of the pairs next to each merge site, never recounting the corpus.
 */
public final class BpeTrainer {
    private static final Logger LOG = LoggerFactory.getLogger(BpeTrainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What training produced: tokens in id order (specials first) and merges in rank order. */
    public record Result(List<String> vocab, List<String[]> merges, int distinctWords, double seconds) {
        public int vocabSize() {
            return vocab.size();
        }

        /** The Hugging Face tokenizer.json document. */
        public ObjectNode toJson() {
            ObjectNode root = JSON.createObjectNode();
            root.put("version", "1.0");
            root.putNull("truncation");
            root.putNull("padding");
            ArrayNode added = root.putArray("added_tokens");
            for (int id = 0; id < SpecialTokens.COUNT; id++) {
                ObjectNode t = added.addObject();
                t.put("id", id).put("content", SpecialTokens.ALL.get(id)).put("single_word", false)
                        .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
            }
            root.putNull("normalizer");
            root.set("pre_tokenizer", byteLevel(false));
            root.putNull("post_processor");
            root.set("decoder", byteLevel(true));
            ObjectNode model = root.putObject("model");
            model.put("type", "BPE");
            model.putNull("dropout");
            model.putNull("unk_token");
            model.putNull("continuing_subword_prefix");
            model.putNull("end_of_word_suffix");
            model.put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", false);
            ObjectNode v = model.putObject("vocab");
            for (int id = 0; id < vocab.size(); id++) {
                v.put(vocab.get(id), id);
            }
            ArrayNode m = model.putArray("merges");
            for (String[] pair : merges) {
                m.add(pair[0] + " " + pair[1]); // byte-level symbols never contain ' ' (it maps to 'Ġ')
            }
            return root;
        }

        /** Writes tokenizer.json atomically. */
        public void write(Path out) {
            byte[] bytes;
            try {
                bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(toJson());
            } catch (IOException e) {
                throw new Mm1Exception(out + ": cannot serialise tokenizer: " + e.getMessage(), e);
            }
            AtomicFiles.write(out, o -> o.write(bytes));
        }

        private static ObjectNode byteLevel(boolean decoder) {
            ObjectNode n = JSON.createObjectNode();
            n.put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                    .put("use_regex", true);
            return n;
        }
    }

    private final int vocabSize;
    private final int minFrequency;
    private final Map<String, Long> wordCounts = new HashMap<>();

    /**
     * @param vocabSize    target size including the 8 special and 256 byte tokens (training stops earlier when no
     *                     pair occurs {@code minFrequency} times)
     * @param minFrequency smallest pair count worth a merge (2: a pair seen once teaches nothing)
     */
    public BpeTrainer(int vocabSize, int minFrequency) {
        if (vocabSize < SpecialTokens.COUNT + 256) {
            throw new Mm1Exception("--vocab-size " + vocabSize + " is below the " + (SpecialTokens.COUNT + 256)
                    + " special and byte tokens");
        }
        if (vocabSize > Tokenizer.MAX_VOCAB_SIZE) {
            throw new Mm1Exception("--vocab-size " + vocabSize + " is above the limit of " + Tokenizer.MAX_VOCAB_SIZE
                    + " tokens");
        }
        this.vocabSize = vocabSize;
        this.minFrequency = Math.max(1, minFrequency);
    }

    /** Counts the pre-tokens of one text (a document, a file's content). Chunks are counted in parallel. */
    public BpeTrainer add(String text) {
        int chunks = Math.max(1, Math.min(64, text.length() / (256 * 1024)));
        int[] cuts = new int[chunks + 1];
        cuts[chunks] = text.length();
        for (int c = 1; c < chunks; c++) { // cut at a newline so no pre-token straddles two chunks
            int at = text.indexOf('\n', Math.max(cuts[c - 1], (int) ((long) text.length() * c / chunks)));
            cuts[c] = at < 0 ? text.length() : at + 1;
        }
        List<Map<String, Long>> parts = IntStream.range(0, chunks).parallel().mapToObj(c -> {
            Map<String, Long> local = new HashMap<>();
            var m = ByteLevel.SPLIT.matcher(text).region(cuts[c], Math.max(cuts[c], cuts[c + 1]));
            while (m.find()) {
                local.merge(m.group(), 1L, Long::sum);
            }
            return local;
        }).toList();
        for (Map<String, Long> p : parts) {
            p.forEach((w, n) -> wordCounts.merge(w, n, Long::sum));
        }
        return this;
    }

    /**
     * Largest input file (and largest text of one {@code .jsonl} file): 512 MiB. A file is counted as one Java
     * String, which holds at most 2^31 bytes, two per char for non-Latin text; larger corpora go in several files
     * (only the pre-token counts are kept between files).
     */
    public static final long MAX_INPUT_BYTES = 512L << 20;

    /** Adds the files' text: {@code .jsonl} files contribute each line's "text" field, others their whole content. */
    public BpeTrainer addFiles(List<Path> files) {
        for (Path f : files) {
            BoundedFiles.checkRegular(f, Long.MAX_VALUE, "input file");
            try {
                if (f.getFileName().toString().endsWith(".jsonl")) {
                    try (BufferedReader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
                        StringBuilder sb = new StringBuilder();
                        String line;
                        int no = 0;
                        while ((line = readLine(r, f)) != null) {
                            no++;
                            if (line.isBlank()) {
                                continue;
                            }
                            JsonNode t;
                            try {
                                t = JSON.readTree(line).path("text");
                            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                                throw new Mm1Exception(f + ":" + no + ": not valid JSON: " + e.getOriginalMessage());
                            }
                            if (!t.isTextual()) {
                                throw new Mm1Exception(f + ":" + no + ": no \"text\" field");
                            }
                            if (sb.length() + (long) t.asText().length() > MAX_INPUT_BYTES) {
                                throw new Mm1Exception(f + ":" + no + ": the text of this file passes the limit of "
                                        + MAX_INPUT_BYTES + " characters; split it into several files");
                            }
                            sb.append(t.asText()).append('\n');
                        }
                        add(sb.toString());
                    }
                } else {
                    add(BoundedFiles.readUtf8(f, MAX_INPUT_BYTES, "input file"));
                }
            } catch (IOException e) {
                throw new Mm1Exception(f + ": cannot read: " + e.getMessage(), e);
            }
        }
        return this;
    }

    /** The next line; bytes that are not UTF-8 are an error naming the file and line. */
    private static String readLine(BufferedReader r, Path f) throws IOException {
        try {
            return r.readLine();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw Utf8.error(f); // the reader decodes ahead: find the line from the bytes
        }
    }

    /** Learns merges until the vocabulary has {@code vocabSize} tokens or no pair is frequent enough. */
    public Result train() {
        // Merges need text; the byte vocabulary alone (vocabSize = specials + 256: `tokenizer: "bytes"`) does not.
        if (wordCounts.isEmpty() && vocabSize > SpecialTokens.COUNT + 256) {
            throw new Mm1Exception("tokenizer training: no input text");
        }
        long t0 = System.nanoTime();
        // Sorted so that the table (and thus tie-breaking) does not depend on hash order.
        TreeMap<String, Long> sorted = new TreeMap<>(wordCounts);
        int nWords = sorted.size();
        int[][] sym = new int[nWords][];
        long[] freq = new long[nWords];
        int w = 0;
        for (var e : sorted.entrySet()) {
            byte[] b = e.getKey().getBytes(StandardCharsets.UTF_8);
            int[] s = new int[b.length];
            for (int i = 0; i < b.length; i++) {
                s[i] = b[i] & 0xFF;
            }
            sym[w] = s;
            freq[w++] = e.getValue();
        }
        // internal id → string; byte b has internal id b. Not pre-sized by vocabSize: training may stop far earlier.
        List<String> tokens = new ArrayList<>();
        Map<String, Integer> ids = new HashMap<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(String.valueOf(ByteLevel.charOf(b)));
            ids.put(tokens.get(b), b);
        }
        PairCounts pc = new PairCounts(sym, freq);
        List<String[]> merges = new ArrayList<>();
        int[] stamp = new int[nWords];
        int target = vocabSize - SpecialTokens.COUNT;
        while (tokens.size() < target) {
            PairCounts.Stat best = pc.popBest(minFrequency);
            if (best == null) {
                break;
            }
            int a = best.a;
            int b = best.b;
            String merged = tokens.get(a) + tokens.get(b);
            Integer existing = ids.get(merged); // two merge paths can spell the same string: one id
            int id = existing != null ? existing : tokens.size();
            if (existing == null) {
                tokens.add(merged);
                ids.put(merged, id);
            }
            merges.add(new String[] {tokens.get(a), tokens.get(b)});
            int mark = merges.size();
            for (int k = 0; k < best.nWhere; k++) {
                int word = best.where[k];
                if (stamp[word] != mark) {
                    stamp[word] = mark;
                    sym[word] = pc.mergeWord(word, sym[word], freq[word], a, b, id);
                }
            }
            pc.remove(best);
        }
        List<String> vocab = new ArrayList<>(SpecialTokens.ALL);
        vocab.addAll(tokens);
        double sec = (System.nanoTime() - t0) / 1e9;
        if (vocabSize > SpecialTokens.COUNT + 256) { // a byte-level vocabulary has no merges to report
            LOG.info("BPE: {} distinct words, {} merges, vocab {} in {} s", nWords, merges.size(), vocab.size(),
                    String.format("%.2f", sec));
        }
        return new Result(List.copyOf(vocab), List.copyOf(merges), nWords, sec);
    }

    /** Pair statistics with the words that contain each pair and a lazily-cleaned max-queue. */
    static final class PairCounts {
        static final class Stat {
            final int a;
            final int b;
            long count;
            int[] where = new int[2];
            int nWhere;

            Stat(int a, int b) {
                this.a = a;
                this.b = b;
            }

            void addWhere(int w) {
                if (nWhere > 0 && where[nWhere - 1] == w) {
                    return;
                }
                if (nWhere == where.length) {
                    where = Arrays.copyOf(where, nWhere * 2);
                }
                where[nWhere++] = w;
            }
        }

        private record Entry(long count, int a, int b) {}

        private final Map<Long, Stat> stats = new HashMap<>();
        private final PriorityQueue<Entry> queue = new PriorityQueue<>((x, y) -> x.count != y.count
                ? Long.compare(y.count, x.count) : x.a != y.a ? Integer.compare(x.a, y.a) : Integer.compare(x.b, y.b));

        PairCounts(int[][] sym, long[] freq) {
            for (int w = 0; w < sym.length; w++) {
                int[] s = sym[w];
                for (int i = 0; i + 1 < s.length; i++) {
                    Stat st = stats.computeIfAbsent(key(s[i], s[i + 1]), k -> new Stat((int) (k >>> 32), (int) (long) k));
                    st.count += freq[w];
                    st.addWhere(w);
                }
            }
            stats.values().forEach(st -> queue.add(new Entry(st.count, st.a, st.b)));
        }

        private static long key(int a, int b) {
            return ((long) a << 32) | (b & 0xFFFFFFFFL);
        }

        /** The most frequent pair (ties: smallest ids), or null when none reaches {@code minFrequency}. */
        Stat popBest(int minFrequency) {
            Entry e;
            while ((e = queue.poll()) != null) {
                Stat st = stats.get(key(e.a, e.b));
                if (st == null) {
                    continue;
                }
                if (st.count != e.count) { // stale: counts only fall without a push, so re-queue the true count
                    if (st.count > 0) {
                        queue.add(new Entry(st.count, st.a, st.b));
                    }
                    continue;
                }
                return st.count >= minFrequency ? st : null;
            }
            return null;
        }

        void remove(Stat st) {
            stats.remove(key(st.a, st.b));
        }

        private void dec(int x, int y, long f) {
            Stat st = stats.get(key(x, y));
            if (st != null) {
                st.count -= f;
            }
        }

        private void inc(int x, int y, long f, int word) {
            Stat st = stats.computeIfAbsent(key(x, y), k -> new Stat(x, y));
            st.count += f;
            st.addWhere(word);
            queue.add(new Entry(st.count, x, y));
        }

        /**
         * Replaces every (a, b) in the word by {@code id}, left to right, and moves the neighbouring pair counts:
         * (prev, a) → (prev, id) and (b, next) → (id, next). "prev" is the already-rewritten symbol, so runs such as
         * a a a a merging (a, a) come out right.
         */
        int[] mergeWord(int word, int[] s, long f, int a, int b, int id) {
            int[] out = new int[s.length];
            int m = 0;
            int i = 0;
            boolean changed = false;
            while (i < s.length) {
                if (i + 1 < s.length && s[i] == a && s[i + 1] == b) {
                    if (m > 0) {
                        dec(out[m - 1], a, f);
                        inc(out[m - 1], id, f, word);
                    }
                    if (i + 2 < s.length) {
                        dec(b, s[i + 2], f);
                        inc(id, s[i + 2], f, word);
                    }
                    out[m++] = id;
                    i += 2;
                    changed = true;
                } else {
                    out[m++] = s[i++];
                }
            }
            return changed ? Arrays.copyOf(out, m) : s;
        }
    }
}
