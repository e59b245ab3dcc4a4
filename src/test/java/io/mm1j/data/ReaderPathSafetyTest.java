package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every path taken from a data file resolves inside its root and names a regular file; nothing else is read. */
class ReaderPathSafetyTest {
    @TempDir
    Path tmp;
    Path images;
    Path secret;

    static byte[] png() throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB), "png", b);
        return b.toByteArray();
    }

    @BeforeEach
    void layout() throws Exception {
        images = Files.createDirectories(tmp.resolve("data/images"));
        Files.write(images.resolve("ok.png"), png());
        secret = Files.write(tmp.resolve("secret.png"), png()); // a readable image outside the image folder
    }

    private Path coco(String fileName) throws Exception {
        return Files.writeString(tmp.resolve("data/captions.json"), """
                {"images": [{"id": 1, "file_name": "ok.png"}, {"id": 2, "file_name": "%s"}],
                 "annotations": [{"image_id": 1, "id": 1, "caption": "a"}, {"image_id": 2, "id": 2, "caption": "b"}]}
                """.formatted(fileName.replace("\\", "\\\\")));
    }

    @Test
    void cocoFileNameWithDotDotIsSkippedAsUnsafeNotOpened() throws Exception {
        Path json = coco("../../secret.png");
        SkipReport r = SkipReport.lenient();
        assertEquals(1, ReadersTest.all(new CocoCaptionsReader(json, images, r)).size());
        assertEquals(1, r.count(SkipReport.UNSAFE_PATH));
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> ReadersTest.all(new CocoCaptionsReader(json, images, SkipReport.strict())));
        assertEquals(json + ": images[1]: unsafe path: '../../secret.png' leads outside " + images, e.getMessage());
    }

    @Test
    void cocoAbsoluteFileNameIsSkippedAsUnsafe() throws Exception {
        Path json = coco(secret.toString());
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> ReadersTest.all(new CocoCaptionsReader(json, images, SkipReport.strict())));
        assertEquals(json + ": images[1]: unsafe path: absolute path '" + secret + "' not allowed (paths are "
                + "relative to " + images + ")", e.getMessage());
    }

    @Test
    void llavaImageThatIsASymbolicLinkOutOfTheFolderIsSkipped() throws Exception {
        Files.createSymbolicLink(images.resolve("link.png"), secret);
        Path json = Files.writeString(tmp.resolve("data/llava.json"), """
                [{"id": "a", "image": "link.png", "conversations": [{"from": "human", "value": "<image>\\nhi"},
                  {"from": "gpt", "value": "hello"}]},
                 {"id": "b", "image": "ok.png", "conversations": [{"from": "human", "value": "hi"},
                  {"from": "gpt", "value": "hello"}]}]
                """);
        SkipReport r = SkipReport.lenient();
        List<Sample> s = ReadersTest.all(new LlavaReader(json, images, r));
        assertEquals(List.of("b"), s.stream().map(Sample::id).toList());
        assertEquals("1 skipped (unsafe path 1)", r.summary());
    }

    @Test
    void mmc4ImageNameIsResolvedInsideTheImageFolder() throws Exception {
        Path docs = Files.writeString(tmp.resolve("data/docs.jsonl"), "{\"text_list\": [\"one\", \"two\"], "
                + "\"image_info\": [{\"image_name\": \"../../secret.png\", \"matched_text_index\": 0}, "
                + "{\"image_name\": \"ok.png\", \"matched_text_index\": 1}]}\n");
        SkipReport r = SkipReport.lenient();
        Sample.Interleaved d = (Sample.Interleaved) ReadersTest.all(new InterleavedReader(docs,
                ImageStore.open(images), r)).get(0);
        assertEquals(1, d.imageCount());
        assertEquals(1, r.count(SkipReport.UNSAFE_PATH));
    }

    private static void entry(TarArchiveOutputStream t, String name, byte flag, String link, byte[] data)
            throws Exception {
        TarArchiveEntry e = new TarArchiveEntry(name, flag);
        if (link != null) {
            e.setLinkName(link);
        }
        e.setSize(data == null ? 0 : data.length);
        t.putArchiveEntry(e);
        if (data != null) {
            t.write(data);
        }
        t.closeArchiveEntry();
    }

    private Path shardWithLinks() throws Exception {
        Path tar = tmp.resolve("shard.tar");
        try (OutputStream o = Files.newOutputStream(tar); TarArchiveOutputStream t = new TarArchiveOutputStream(o)) {
            entry(t, "0001.png", TarConstants.LF_SYMLINK, secret.toString(), null);
            entry(t, "0001.txt", TarConstants.LF_NORMAL, null, "a symlinked picture".getBytes());
            entry(t, "0002.png", TarConstants.LF_LINK, "0003.png", null);
            entry(t, "0002.txt", TarConstants.LF_NORMAL, null, "a hard-linked picture".getBytes());
            entry(t, "0003.png", TarConstants.LF_CHR, null, null);
            entry(t, "0003.txt", TarConstants.LF_NORMAL, null, "a device".getBytes());
            entry(t, "0004.png", TarConstants.LF_NORMAL, null, png());
            entry(t, "0004.txt", TarConstants.LF_NORMAL, null, "a real picture".getBytes());
        }
        return tar;
    }

    @Test
    void webDatasetReadsOnlyRegularFileMembers() throws Exception {
        Path tar = shardWithLinks();
        SkipReport r = SkipReport.lenient();
        List<Sample> s = ReadersTest.all(new WebDatasetReader(List.of(tar), r));
        assertEquals(List.of("0004"), s.stream().map(Sample::id).toList());
        assertEquals(3, r.count(SkipReport.NOT_REGULAR));
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> ReadersTest.all(new WebDatasetReader(List.of(tar), SkipReport.strict())));
        assertEquals(tar + ":0001.png: not a regular file: tar member is a symbolic link to " + secret,
                e.getMessage());
    }

    @Test
    void imageTarServesOnlyRegularFileMembers() throws Exception {
        Path tar = shardWithLinks();
        try (ImageStore store = ImageStore.open(tar)) {
            SkipReport r = SkipReport.lenient();
            assertEquals(null, store.find("0002.png", "docs.jsonl:1", r));
            assertEquals("1 skipped (not a regular file 1)", r.summary());
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> store.find("0001.png", "docs.jsonl:1",
                    SkipReport.strict()));
            assertEquals("docs.jsonl:1: not a regular file: " + tar + ":0001.png is a symbolic link to " + secret,
                    e.getMessage());
            assertEquals(4, store.find("0004.png", "docs.jsonl:1", SkipReport.strict()).load().getWidth());
        }
    }
}
