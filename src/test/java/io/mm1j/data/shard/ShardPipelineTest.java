package io.mm1j.data.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.TestSupport;
import io.mm1j.data.InterleavedReader;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleEncoder;
import io.mm1j.data.SkipReport;
import io.mm1j.data.WebDatasetReader;
import io.mm1j.eval.EvalReport;
import io.mm1j.io.JsonFiles;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.ImagePreprocessor;
import io.mm1j.vision.RgbImage;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mm1 data shard} on the DirectRunner (with its element-encoding and immutability checks on): what is written,
 * what is skipped and why, and that the shards read back through {@link WebDatasetReader} as the input's samples.
 */
class ShardPipelineTest {
    /** The DirectRunner's checks: every element through its coder, no DoFn changing its input. */
    private static final List<String> CHECKED = List.of("--enforceEncodability=true", "--enforceImmutability=true");

    @TempDir
    Path tmp;

    private static ShardJob job(Path input, String format, Path images, Path out, Path model, int shardSize,
                                int workers) {
        return new ShardJob(input, format, images, out, false, model, "direct", shardSize, workers, 512,
                ShardFilters.DEFAULT, CHECKED);
    }

    private static byte[] png(int w, int h, long seed) throws IOException {
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, r.nextInt(1 << 24));
            }
        }
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        ImageIO.write(img, "png", bos);
        return bos.toByteArray();
    }

    /** A COCO captions file over {@code files} (id = position + 1) with the given first captions. */
    private static Path coco(Path dir, List<String> files, List<String> captions) throws IOException {
        ObjectNode root = JsonFiles.MAPPER.createObjectNode();
        ArrayNode images = root.putArray("images");
        ArrayNode anns = root.putArray("annotations");
        for (int i = 0; i < files.size(); i++) {
            images.addObject().put("id", i + 1).put("file_name", files.get(i));
            anns.addObject().put("image_id", i + 1).put("id", 100 + i).put("caption", captions.get(i));
        }
        Path f = dir.resolve("captions.json");
        JsonFiles.MAPPER.writeValue(f.toFile(), root);
        return f;
    }

    private static List<Path> shards(Path out) throws IOException {
        try (Stream<Path> s = Files.list(out)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".tar")).sorted().toList();
        }
    }

    private static List<Sample> readBack(Path out, boolean keepTokens) throws IOException {
        List<Sample> all = new ArrayList<>();
        try (WebDatasetReader r = new WebDatasetReader(shards(out), SkipReport.strict(), keepTokens)) {
            r.forEachRemaining(all::add);
        }
        return all;
    }

    @Test
    void syntheticCaptionsFilteredDeduplicatedAndReadBack() throws IOException {
        Path img = Files.createDirectories(tmp.resolve("images"));
        byte[] a = png(80, 80, 1);
        Files.write(img.resolve("a.png"), a);
        Files.write(img.resolve("b.png"), png(96, 72, 2));
        Files.write(img.resolve("c.png"), png(70, 90, 3));
        Files.write(img.resolve("a-copy.png"), a); // the same bytes under another name: a duplicate
        Files.write(img.resolve("broken.jpg"), new byte[] {(byte) 0xFF, (byte) 0xD8, 1, 2, 3, 4}); // corrupt
        Files.write(img.resolve("small.png"), png(32, 32, 4)); // below --min-side 64
        Files.write(img.resolve("wide.png"), png(260, 64, 5)); // 4.06:1, above --max-aspect 3
        Files.write(img.resolve("d.png"), png(64, 64, 6)); // its caption is too short
        Path json = coco(tmp, List.of("a.png", "b.png", "c.png", "a-copy.png", "broken.jpg", "small.png", "wide.png",
                "d.png"), List.of("a red square", "a blue square", "a green square", "a red square again",
                "a broken file", "a small picture", "a wide picture", "ok"));
        Path out = tmp.resolve("out");

        ShardPipeline.Result r = ShardPipeline.run(job(json, "coco", img, out, null, 2, 2), null);

        JsonNode ix = JsonFiles.read(out.resolve("index.json"));
        assertEquals(8, ix.get("read").asLong());
        assertEquals(3, r.samples());
        assertEquals(Map.of("duplicate image", 1L, "corrupt image", 1L, "image too small", 1L, "aspect ratio", 1L,
                "caption length", 1L), counts(ix.get("skipped")));
        assertEquals(List.of(2L, 1L), ix.get("shards").findValues("samples").stream().map(JsonNode::asLong).toList());
        assertEquals(List.of("shard-000000.tar", "shard-000001.tar"),
                shards(out).stream().map(p -> p.getFileName().toString()).toList());

        List<Sample> back = readBack(out, false);
        assertEquals(List.of("1", "2", "3"), back.stream().map(Sample::id).toList()); // a, not its later copy
        Sample.Caption first = (Sample.Caption) back.get(0);
        assertEquals(List.of("a red square"), first.captions());
        assertArrayEquals(a, first.image().bytes()); // without --model the image bytes are kept as they are
        assertTrue(first.image().name().endsWith(".png"), first.image().name());
    }

    @Test
    void sameShardsWithOneOrTwoWorkers() throws IOException {
        Path img = Files.createDirectories(tmp.resolve("images"));
        List<String> files = new ArrayList<>();
        List<String> caps = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Files.write(img.resolve(i + ".png"), png(64 + i, 64, i));
            files.add(i + ".png");
            caps.add("picture number " + i);
        }
        Path json = coco(tmp, files, caps);
        ShardPipeline.run(job(json, "coco", img, tmp.resolve("one"), null, 3, 1), null);
        ShardPipeline.run(job(json, "coco", img, tmp.resolve("two"), null, 3, 2), null);
        for (String shard : List.of("shard-000000.tar", "shard-000001.tar")) {
            assertArrayEquals(Files.readAllBytes(tmp.resolve("one").resolve(shard)),
                    Files.readAllBytes(tmp.resolve("two").resolve(shard)), shard);
        }
    }

    @Test
    void documentsLoseDuplicateAndCorruptImagesButKeepTheirText() throws IOException {
        Path img = Files.createDirectories(tmp.resolve("images"));
        byte[] x = png(64, 64, 7);
        Files.write(img.resolve("x.png"), x);
        Files.write(img.resolve("x2.png"), x);
        Files.write(img.resolve("bad.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, 0, 0});
        Path docs = tmp.resolve("docs.jsonl");
        Files.writeString(docs, """
                {"url": "u1", "text_list": ["one", "two", "three"], "image_info": [{"image_name": "x.png", \
                "matched_text_index": 0}, {"image_name": "x2.png", "matched_text_index": 1}, \
                {"image_name": "bad.png", "matched_text_index": 2}]}
                {"url": "u2", "text_list": ["four"], "image_info": [{"image_name": "x.png", "matched_text_index": 0}]}
                """);
        ShardPipeline.run(job(docs, "mmc4", img, tmp.resolve("out"), null, 10, 2), null);

        JsonNode ix = JsonFiles.read(tmp.resolve("out/index.json"));
        assertEquals(2, ix.get("samples").asLong());
        assertEquals(Map.of("duplicate image", 2L, "corrupt image", 1L), counts(ix.get("imagesDropped")));
        List<Sample> back = readBack(tmp.resolve("out"), false);
        Sample.Interleaved d1 = (Sample.Interleaved) back.get(0);
        Sample.Interleaved d2 = (Sample.Interleaved) back.get(1);
        assertEquals(List.of("<image>", "one", "two", "three"), render(d1));
        assertArrayEquals(x, d1.parts().get(0).image().bytes());
        assertEquals(List.of("four"), render(d2));
    }

    @Test
    void modelResizesImagesAndItsTokensAreReplayedByPretraining() throws IOException {
        Path model = tmp.resolve("model");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", model.toString(), "--seed", "1")
                .code());
        Path img = Files.createDirectories(tmp.resolve("images"));
        byte[] src = png(96, 72, 8);
        Files.write(img.resolve("a.png"), src);
        Path json = coco(tmp, List.of("a.png"), List.of("a square of noise"));
        ShardPipeline.run(job(json, "coco", img, tmp.resolve("out"), model, 10, 1), null);

        String sha = EvalReport.sha256(model.resolve("tokenizer.json"));
        assertEquals(sha, JsonFiles.read(tmp.resolve("out/index.json")).get("tokenizerSha256").asText());
        Sample.Pretokenized p = (Sample.Pretokenized) readBack(tmp.resolve("out"), true).get(0);
        assertEquals(sha, p.tokenizer());
        // the stored image is the encoder's input: cover-resize + centre crop to 32×32, lossless
        RgbImage stored = ((Sample.Caption) p.sample()).image().decode();
        assertEquals(32, stored.width());
        float[] expected = new ImagePreprocessor(null, 32).coverCropLevels(new ImageIoLoader().decode(src, "a"), 32,
                32);
        assertArrayEquals(expected, new ImagePreprocessor(null, 32).resizedLevels(stored, 32, 32));

        try (Tokenizer tok = Tokenizer.load(model.resolve("tokenizer.json"))) {
            SampleEncoder plain = new SampleEncoder(tok::encode, SampleEncoder.resizeToUnit(32));
            SampleEncoder.Prepared want = plain.prepare(p.sample(), null, null);
            // a text encoder that fails shows the ids came from the shard, not from tokenising again
            SampleEncoder replay = new SampleEncoder(t -> {
                throw new AssertionError("tokenised again: " + t);
            }, SampleEncoder.resizeToUnit(32)).withTokenizer(sha);
            assertEquals(tokens(want), tokens(replay.prepare(p, null, null)));
            // another tokenizer's encoder ignores the ids and encodes the text
            SampleEncoder.TextEncoder lengths = t -> new long[] {100 + t.length()};
            SampleEncoder other = new SampleEncoder(lengths, SampleEncoder.resizeToUnit(32))
                    .withTokenizer("0".repeat(64));
            assertEquals(tokens(new SampleEncoder(lengths, SampleEncoder.resizeToUnit(32)).prepare(p.sample(), null,
                    null)), tokens(other.prepare(p, null, null)));
            assertTrue(tokens(other.prepare(p, null, null)).contains(List.of(100L + "a square of noise".length())));
        }
    }

    @Test
    void refusesANonEmptyOutputAndNamesAMissingRunner() throws IOException {
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "Once upon a time there was a tiny shard.\n");
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> ShardPipeline.run(job(text, "text", null, out, null,
                10, 1), null));
        assertTrue(e.getMessage().contains("--out"), e.getMessage());
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));
        Mm1Exception flink = assertThrows(Mm1Exception.class, () -> ShardPipeline.run(new ShardJob(text, "text", null,
                tmp.resolve("f"), false, null, "flink", 10, 1, 512, ShardFilters.DEFAULT, List.of()), null));
        assertTrue(flink.getMessage().contains("mvn -Pflink"), flink.getMessage());
        assertFalse(Files.exists(tmp.resolve("f")));
    }

    @Test
    void cocoMiniSubsetWithAnInjectedDuplicateAndCorruptFile() throws IOException {
        Path coco = TestSupport.sharedData("coco-mini");
        JsonNode all = JsonFiles.read(coco.resolve("captions.json"));
        Path img = Files.createDirectories(tmp.resolve("images"));
        List<String> files = new ArrayList<>();
        List<String> caps = new ArrayList<>();
        Map<String, List<String>> refs = new LinkedHashMap<>();
        for (JsonNode a : all.get("annotations")) {
            refs.computeIfAbsent(a.get("image_id").asText(), k -> new ArrayList<>()).add(a.get("caption").asText());
        }
        for (int i = 0; i < 12; i++) {
            JsonNode im = all.get("images").get(i);
            String name = im.get("file_name").asText();
            Files.copy(coco.resolve("images").resolve(name), img.resolve(name));
            files.add(name);
            caps.add(refs.get(im.get("id").asText()).get(0));
        }
        Files.copy(img.resolve(files.get(3)), img.resolve("copy-of-3.jpg"));
        files.add("copy-of-3.jpg");
        caps.add("the same photo again");
        byte[] head = Arrays.copyOf(Files.readAllBytes(img.resolve(files.get(0))), 2000); // truncated JPEG
        Files.write(img.resolve("truncated.jpg"), head);
        files.add("truncated.jpg");
        caps.add("half a photo");
        Path json = coco(tmp, files, caps);

        ShardPipeline.run(job(json, "coco", img, tmp.resolve("out"), null, 5, 2), null);

        JsonNode ix = JsonFiles.read(tmp.resolve("out/index.json"));
        assertEquals(14, ix.get("read").asLong());
        assertEquals(12, ix.get("samples").asLong());
        assertEquals(Map.of("duplicate image", 1L, "corrupt image", 1L), counts(ix.get("skipped")));
        assertEquals(List.of(5L, 5L, 2L), ix.get("shards").findValues("samples").stream().map(JsonNode::asLong)
                .toList());
        List<Sample> back = readBack(tmp.resolve("out"), false);
        for (int i = 0; i < 12; i++) {
            Sample.Caption c = (Sample.Caption) back.get(i);
            assertEquals(String.valueOf(i + 1), c.id());
            assertEquals(List.of(caps.get(i).strip()), c.captions());
            assertArrayEquals(Files.readAllBytes(img.resolve(files.get(i))), c.image().bytes(), files.get(i));
        }
    }

    @Test
    void mmc4SampleDocumentsWithoutTheirImages() throws IOException {
        Path docs = TestSupport.sharedData("mmc4-sample").resolve("docs.jsonl");
        ShardPipeline.run(job(docs, "mmc4", null, tmp.resolve("out"), null, 40, 2), null);

        JsonNode ix = JsonFiles.read(tmp.resolve("out/index.json"));
        assertEquals(100, ix.get("read").asLong());
        assertEquals(100, ix.get("samples").asLong());
        assertEquals(Map.of("missing image", 392L), counts(ix.get("reader"))); // mmc4 ships image URLs only
        assertEquals(List.of(40L, 40L, 20L), ix.get("shards").findValues("samples").stream().map(JsonNode::asLong)
                .toList());
        List<Sample> back = readBack(tmp.resolve("out"), false);
        try (InterleavedReader r = new InterleavedReader(docs, null, SkipReport.lenient())) {
            for (Sample s : back) {
                Sample.Interleaved want = (Sample.Interleaved) r.next();
                assertEquals(want.id(), s.id());
                assertEquals(render(want), render((Sample.Interleaved) s));
            }
        }
    }

    private static List<String> render(Sample.Interleaved d) {
        return d.parts().stream().map(p -> p.image() != null ? "<image>" : p.text()).toList();
    }

    private static List<List<Long>> tokens(SampleEncoder.Prepared p) {
        return p.pieces().stream().filter(x -> !x.isImage())
                .map(x -> Arrays.stream(x.tokens()).boxed().toList()).toList();
    }

    private static Map<String, Long> counts(JsonNode o) {
        Map<String, Long> m = new LinkedHashMap<>();
        o.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asLong()));
        return m;
    }
}
