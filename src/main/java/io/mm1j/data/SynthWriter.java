package io.mm1j.data;

import io.mm1j.io.AtomicFiles;
import io.mm1j.io.OutputDir;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.SafeTensorsWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a {@link SyntheticWorld} to disk in the real dataset formats, so that training reads it through the same
 * readers as real data. Layout under {@code out/} (one set per split: train 80%, val 10%, test 10%):
 * <pre>
 * images/{split}/{id:012d}.png                  caption/VQA pictures (COCO-style numeric names)
 * coco/captions_{split}.json                    COCO captions: images[{id,file_name,width,height}], annotations[]
 * wds/{split}-{shard:06d}.tar                   WebDataset: {key}.png, {key}.txt (one caption), {key}.json (all)
 * interleaved/{split}.jsonl                     mmc4 layout: text_list, image_info[{image_name,matched_text_index}]
 * interleaved/images/{split}/d{doc}_{k}.png     the documents' pictures
 * vqa/questions_{split}.json, annotations_{split}.json   VQAv2 (data_subtype = split, 10 answers per question)
 * llava/{split}.json                            LLaVA conversations built from the VQA items (SFT format)
 * text/{split}.txt                              text-only documents, separated by blank lines
 * manifest.json                                 seed, size, caption style and counts
 * </pre>
 * With {@link CaptionStyle#RECAPTIONED} (MM1's VeCap analogue) half of the train split's pictures, drawn per picture,
 * lead their caption list with {@link SyntheticWorld#recaption} (training reads the first caption); val and test keep
 * the plain captions, so held-out scores compare with the plain world's.
 * The output is a pure function of (images, size, seed): tar entries carry fixed times and owners, JSON keeps
 * insertion order, and PNG encoding has no timestamps — two runs are byte-identical.
 */
public final class SynthWriter {
    private static final Logger LOG = LoggerFactory.getLogger(SynthWriter.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final List<String> SPLITS = List.of("train", "val", "test");
    /** Samples per WebDataset shard (real shards hold ~10k; small here so tests see several). */
    static final int SHARD_SIZE = 256;

    /** The train split's caption style. */
    public enum CaptionStyle {
        /** Five short alt-text-like captions per picture from different templates. */
        PLAIN,
        /** Half the train pictures lead with a dense re-caption (MM1's synthetic VeCap captions). */
        RECAPTIONED;

        public String json() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        public static CaptionStyle of(String s) {
            for (CaptionStyle c : values()) {
                if (c.json().equals(s)) {
                    return c;
                }
            }
            throw new Mm1Exception("caption style must be plain or recaptioned, got '" + s + "'");
        }
    }

    /** What was written. */
    public record Summary(Path out, int images, int documents, int documentImages, int questions, int texts) {}

    private SynthWriter() {}

    /** Images per split for {@code n} images: 10% val and test (at least one each from 3 images up). */
    static int[] splitSizes(int n) {
        int val = n >= 3 ? Math.max(1, Math.round(n * 0.1f)) : 0;
        return new int[] {n - 2 * val, val, val};
    }

    /** Writes into {@code out}, which must be absent or empty. */
    public static Summary write(Path out, int images, int size, long seed) {
        return write(out, images, size, seed, false);
    }

    /**
     * Builds the dataset in a staging folder and moves it onto {@code out} when complete ({@link OutputDir}): a
     * killed run leaves no half dataset, and nothing of an older dataset in {@code out} survives to be read as part
     * of the new one.
     *
     * @param overwrite replace a non-empty {@code out} (otherwise refused)
     */
    public static Summary write(Path out, int images, int size, long seed, boolean overwrite) {
        return write(out, images, size, seed, overwrite, CaptionStyle.PLAIN, false);
    }

    /** {@link #write(Path, int, int, long, boolean)} with the train split's caption style. */
    public static Summary write(Path out, int images, int size, long seed, boolean overwrite, CaptionStyle style) {
        return write(out, images, size, seed, overwrite, style, false);
    }

    /** @param smallText signs in small letters, asked about as "the small sign" ({@link SyntheticWorld}) */
    public static Summary write(Path out, int images, int size, long seed, boolean overwrite, boolean smallText) {
        return write(out, images, size, seed, overwrite, CaptionStyle.PLAIN, smallText);
    }

    /** The world with the train split's caption style and, optionally, small-text signs. */
    public static Summary write(Path out, int images, int size, long seed, boolean overwrite, CaptionStyle style,
                                boolean smallText) {
        if (images < 1) {
            throw new Mm1Exception("--images must be at least 1 (got " + images + ")");
        }
        if (size < 16) {
            throw new Mm1Exception("--size must be at least 16 pixels (got " + size + ")");
        }
        try (OutputDir dir = OutputDir.create(out, overwrite, "--out")) {
            Summary s = writeInto(dir.staging(), images, size, new SyntheticWorld(seed, smallText), style);
            dir.commit();
            // Debug only: the CLI prints this summary itself (once); library callers can turn it on.
            LOG.debug("synthetic data in {}: {} images, {} documents ({} images), {} questions, {} text documents",
                    out, images, s.documents(), s.documentImages(), s.questions(), s.texts());
            return new Summary(out, s.images(), s.documents(), s.documentImages(), s.questions(), s.texts());
        }
    }

    private static Summary writeInto(Path out, int images, int size, SyntheticWorld world, CaptionStyle style) {
        long seed = world.seed();
        int[] sizes = splitSizes(images);
        long nextImage = 1;
        long nextDoc = 1;
        long nextText = 1;
        int docs = 0;
        int docImages = 0;
        int questions = 0;
        int texts = 0;
        for (int si = 0; si < SPLITS.size(); si++) {
            String split = SPLITS.get(si);
            if (sizes[si] == 0) {
                continue;
            }
            List<Long> ids = new ArrayList<>();
            for (int i = 0; i < sizes[si]; i++) {
                ids.add(nextImage++);
            }
            questions += writeImageSets(out, split, world, ids, size,
                    split.equals("train") ? style : CaptionStyle.PLAIN);
            int nDocs = Math.max(1, sizes[si] / 4);
            docImages += writeDocuments(out, split, world, nextDoc, nDocs, size);
            nextDoc += nDocs;
            docs += nDocs;
            int nTexts = textDocuments(sizes[si]);
            byte[] txt = texts(world, nextText, nTexts).getBytes(StandardCharsets.UTF_8);
            nextText += nTexts;
            texts += nTexts;
            AtomicFiles.write(out.resolve("text/" + split + ".txt"), o -> o.write(txt));
        }
        ObjectNode m = JSON.createObjectNode();
        m.put("generator", "mm1j SyntheticWorld").put("seed", seed).put("size", size).put("images", images)
                .put("documents", docs).put("documentImages", docImages).put("questions", questions)
                .put("textDocuments", texts);
        if (style != CaptionStyle.PLAIN) { // absent for plain: manifests of older worlds stay valid
            m.put("captionStyle", style.json());
        }
        if (world.smallText()) {
            m.put("smallText", true);
        }
        writeJson(out.resolve("manifest.json"), m);
        return new Summary(out, images, docs, docImages, questions, texts);
    }

    /** Text-only documents of a split with {@code images} pictures: half as many, at least one. */
    private static int textDocuments(int images) {
        return Math.max(1, images / 2);
    }

    /** Documents {@code first} … {@code first + n − 1} of the world, each followed by a blank line. */
    private static String texts(SyntheticWorld world, long first, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(world.textDocument(first + i)).append("\n\n");
        }
        return sb.toString();
    }

    /**
     * The content of {@code text/{split}.txt} in the world {@link #write} writes for {@code images} pictures and
     * {@code seed}, computed alone: for text-only work (e.g. {@code lr-sweep}) that needs none of the pictures.
     * Empty for a split without pictures (where {@link #write} writes no file).
     */
    public static String text(int images, long seed, String split) {
        int si = SPLITS.indexOf(split);
        if (si < 0) {
            throw new IllegalArgumentException("split must be one of " + SPLITS + ", got " + split);
        }
        int[] sizes = splitSizes(images);
        if (sizes[si] == 0) {
            return "";
        }
        long first = 1;
        for (int j = 0; j < si; j++) {
            first += sizes[j] == 0 ? 0 : textDocuments(sizes[j]);
        }
        return texts(new SyntheticWorld(seed, false), first, textDocuments(sizes[si]));
    }

    /** Captions (COCO + WebDataset), VQA and LLaVA for one split's pictures; returns the number of questions. */
    private static int writeImageSets(Path out, String split, SyntheticWorld world, List<Long> ids, int size,
                                      CaptionStyle style) {
        ObjectNode coco = JSON.createObjectNode();
        coco.putObject("info").put("description", "mm1j synthetic shapes world, split " + split);
        coco.putArray("licenses");
        ArrayNode images = coco.putArray("images");
        ArrayNode anns = coco.putArray("annotations");
        ObjectNode vq = JSON.createObjectNode().put("data_subtype", split).put("task_type", "Open-Ended");
        ArrayNode qs = vq.putArray("questions");
        ObjectNode va = JSON.createObjectNode().put("data_subtype", split);
        ArrayNode as = va.putArray("annotations");
        ArrayNode llava = JSON.createArrayNode();
        List<byte[]> pngs = new ArrayList<>();
        List<List<String>> caps = new ArrayList<>();
        long annId = ids.get(0) * 10;
        for (long id : ids) {
            Scene s = world.scene(id);
            SplittableRandom rnd = world.random("labels", id);
            String file = String.format("%012d.png", id);
            byte[] png = png(world.render(s, size));
            writeFile(out.resolve("images/" + split + "/" + file), png);
            images.addObject().put("id", id).put("file_name", file).put("width", size).put("height", size);
            List<String> c = world.captions(s, rnd);
            if (style == CaptionStyle.RECAPTIONED && world.random("recaption", id).nextBoolean()) {
                List<String> r = new ArrayList<>(c.size() + 1);
                r.add(SyntheticWorld.recaption(s));
                r.addAll(c);
                c = List.copyOf(r);
            }
            for (String cap : c) {
                anns.addObject().put("image_id", id).put("id", annId++).put("caption", cap);
            }
            pngs.add(png);
            caps.add(c);
            ObjectNode conv = llava.addObject().put("id", String.format("%012d", id)).put("image", file);
            ArrayNode turns = conv.putArray("conversations");
            int k = 0;
            for (SyntheticWorld.VqaItem q : world.questions(s, rnd)) {
                long qid = id * 100 + k++;
                qs.addObject().put("image_id", id).put("question", q.question()).put("question_id", qid);
                ObjectNode a = as.addObject().put("question_type", q.questionType())
                        .put("multiple_choice_answer", q.answer());
                ArrayNode al = a.putArray("answers");
                for (int j = 0; j < q.answers().size(); j++) {
                    al.addObject().put("answer", q.answers().get(j)).put("answer_confidence", "yes")
                            .put("answer_id", j + 1);
                }
                a.put("image_id", id).put("answer_type", q.answerType()).put("question_id", qid);
                turns.addObject().put("from", "human").put("value", (k == 1 ? "<image>\n" : "") + q.question());
                turns.addObject().put("from", "gpt").put("value", q.answer());
            }
        }
        writeJson(out.resolve("coco/captions_" + split + ".json"), coco);
        writeJson(out.resolve("vqa/questions_" + split + ".json"), vq);
        writeJson(out.resolve("vqa/annotations_" + split + ".json"), va);
        writeJson(out.resolve("llava/" + split + ".json"), llava);
        for (int shard = 0; shard * SHARD_SIZE < ids.size(); shard++) {
            int from = shard * SHARD_SIZE;
            int to = Math.min(ids.size(), from + SHARD_SIZE);
            AtomicFiles.write(out.resolve(String.format("wds/%s-%06d.tar", split, shard)), o -> {
                // Not closed: closing would close the atomic writer's channel before its fsync; finish() ends the
                // archive (two zero records) and the writer flushes.
                TarArchiveOutputStream tar = new TarArchiveOutputStream(o);
                {
                    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                    for (int i = from; i < to; i++) {
                        String key = String.format("%012d", ids.get(i));
                        ObjectNode meta = JSON.createObjectNode().put("id", ids.get(i));
                        caps.get(i).forEach(meta.putArray("captions")::add);
                        tarEntry(tar, key + ".png", pngs.get(i));
                        tarEntry(tar, key + ".txt", caps.get(i).get(0).getBytes(StandardCharsets.UTF_8));
                        tarEntry(tar, key + ".json", JSON.writeValueAsBytes(meta));
                    }
                    tar.finish();
                }
            });
        }
        return qs.size();
    }

    /** mmc4-style JSONL documents and their pictures; returns the number of pictures. */
    private static int writeDocuments(Path out, String split, SyntheticWorld world, long first, int n, int size) {
        StringBuilder jsonl = new StringBuilder();
        int pictures = 0;
        for (long d = first; d < first + n; d++) {
            SyntheticWorld.Document doc = world.document(d);
            ObjectNode line = JSON.createObjectNode().put("url", "synth://doc/" + d);
            doc.sentences().forEach(line.putArray("text_list")::add);
            ArrayNode info = line.putArray("image_info");
            for (int k = 0; k < doc.scenes().size(); k++) {
                String name = String.format("d%06d_%d.png", d, k);
                byte[] png = png(world.render(doc.scenes().get(k), size));
                writeFile(out.resolve("interleaved/images/" + split + "/" + name), png);
                info.addObject().put("image_name", name).put("raw_url", "synth://image/" + name)
                        .put("matched_text_index", doc.matchedSentence().get(k)).put("matched_sim", 1.0);
                pictures++;
            }
            try {
                jsonl.append(JSON.writeValueAsString(line)).append('\n');
            } catch (IOException e) {
                throw new Mm1Exception("cannot serialise document " + d + ": " + e.getMessage(), e);
            }
        }
        byte[] bytes = jsonl.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(out.resolve("interleaved/" + split + ".jsonl"), o -> o.write(bytes));
        return pictures;
    }

    private static byte[] png(java.awt.image.BufferedImage img) {
        try {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            ImageIO.write(img, "png", b);
            return b.toByteArray();
        } catch (IOException e) {
            throw new Mm1Exception("cannot encode PNG: " + e.getMessage(), e);
        }
    }

    /** A tar member with fixed owner, mode and time so that shards are reproducible. */
    private static void tarEntry(TarArchiveOutputStream tar, String name, byte[] data) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(data.length);
        e.setMode(0100644);
        e.setModTime(0L);
        e.setIds(0, 0);
        e.setNames("", "");
        tar.putArchiveEntry(e);
        tar.write(data);
        tar.closeArchiveEntry();
    }

    /** Pictures are written plainly: an fsync per small PNG would dominate the run, and they are re-creatable. */
    private static void writeFile(Path file, byte[] data) {
        try {
            java.nio.file.Files.createDirectories(file.getParent());
            java.nio.file.Files.write(file, data);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static void writeJson(Path file, Object node) {
        try {
            byte[] b = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node);
            AtomicFiles.write(file, o -> o.write(b));
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot serialise: " + e.getMessage(), e);
        }
    }
}
