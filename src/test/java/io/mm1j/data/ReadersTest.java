package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.TestSupport;
import io.mm1j.Mm1Exception;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReadersTest {
    @TempDir
    static Path dir;
    static Path synth;

    @BeforeAll
    static void synthesize() {
        synth = dir.resolve("synth");
        SynthWriter.write(synth, 20, 32, 11); // train 16, val 2, test 2
    }

    static List<Sample> all(SampleReader r) {
        List<Sample> out = new ArrayList<>();
        try (r) {
            r.forEachRemaining(out::add);
        }
        return out;
    }

    @Test
    void cocoCaptionsFromSynthesizedData() {
        List<Sample> s = all(new CocoCaptionsReader(synth.resolve("coco/captions_train.json"),
                synth.resolve("images/train"), SkipReport.strict()));
        assertEquals(16, s.size());
        Sample.Caption c = assertInstanceOf(Sample.Caption.class, s.get(0));
        assertEquals("1", c.id());
        assertEquals(5, c.captions().size());
        assertEquals(32, c.image().load().getWidth());
    }

    @Test
    void cocoMiniFromSharedData() {
        Path coco = TestSupport.sharedData("coco-mini");
        List<Sample> s = all(new CocoCaptionsReader(coco.resolve("captions.json"), coco.resolve("images"),
                SkipReport.strict()));
        assertEquals(239, s.size());
        assertEquals(1195, s.stream().mapToInt(x -> ((Sample.Caption) x).captions().size()).sum());
        Sample.Caption first = (Sample.Caption) s.get(0);
        assertEquals(first.image().load().getWidth(), 640);
    }

    @Test
    void missingImageIsSkippedAndCountedOrFailsStrictly() throws Exception {
        Path json = dir.resolve("coco-missing.json");
        Files.writeString(json, """
                {"images": [{"id": 1, "file_name": "000000000001.png"}, {"id": 2, "file_name": "nope.png"}],
                 "annotations": [{"image_id": 1, "id": 1, "caption": "a"}, {"image_id": 2, "id": 2, "caption": "b"}]}
                """);
        SkipReport lenient = SkipReport.lenient();
        assertEquals(1, all(new CocoCaptionsReader(json, synth.resolve("images/train"), lenient)).size());
        assertEquals(1, lenient.count(SkipReport.MISSING_IMAGE));
        assertEquals("1 skipped (missing image 1)", lenient.summary());
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> all(new CocoCaptionsReader(json,
                synth.resolve("images/train"), SkipReport.strict())));
        assertEquals(json + ": images[1]: missing image: " + synth.resolve("images/train/nope.png"), e.getMessage());
    }

    @Test
    void webDatasetGroupsMembersByKey() throws Exception {
        List<Sample> s = all(new WebDatasetReader(List.of(synth.resolve("wds/train-000000.tar")),
                SkipReport.strict()));
        assertEquals(16, s.size());
        Sample.Caption c = (Sample.Caption) s.get(1);
        assertEquals("000000000002", c.id());
        assertEquals(32, c.image().load().getHeight());
    }

    @Test
    void webDatasetSampleWithoutCaptionIsSkipped() throws Exception {
        Path tar = dir.resolve("broken.tar");
        byte[] png = Files.readAllBytes(synth.resolve("images/train/000000000001.png"));
        try (OutputStream o = Files.newOutputStream(tar); TarArchiveOutputStream t = new TarArchiveOutputStream(o)) {
            member(t, "a/0001.png", png);
            member(t, "a/0001.txt", "one".getBytes());
            member(t, "a/0002.png", png);
            member(t, "a/0003.jpg.txt", "orphan".getBytes());
        }
        SkipReport lenient = SkipReport.lenient();
        List<Sample> s = all(new WebDatasetReader(List.of(tar), lenient));
        assertEquals(1, s.size());
        assertEquals(2, lenient.count(SkipReport.MISSING_MEMBER));
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> all(new WebDatasetReader(List.of(tar),
                SkipReport.strict())));
        assertEquals(tar + ":a/0002: tar sample without its pair member: no caption (.txt or .json) member",
                e.getMessage());
    }

    private static void member(TarArchiveOutputStream t, String name, byte[] data) throws Exception {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(data.length);
        t.putArchiveEntry(e);
        t.write(data);
        t.closeArchiveEntry();
    }

    @Test
    void interleavedSynthDocumentsKeepReadingOrder() {
        List<Sample> s = all(new InterleavedReader(synth.resolve("interleaved/train.jsonl"),
                ImageStore.open(synth.resolve("interleaved/images/train")), SkipReport.strict()));
        assertEquals(4, s.size());
        Sample.Interleaved d = (Sample.Interleaved) s.get(0);
        assertNotNull(d.parts().get(0).text());
        assertNotNull(d.parts().get(1).image()); // picture one precedes "Picture one shows …"
        assertTrue(d.parts().get(2).text().startsWith("Picture one shows"));
        assertTrue(d.imageCount() >= 2);
    }

    @Test
    void mmc4SampleWithoutImagesYieldsTextAndCountsMissingImages() {
        Path docs = TestSupport.sharedData("mmc4-sample").resolve("docs.jsonl");
        SkipReport r = SkipReport.lenient();
        List<Sample> s = all(new InterleavedReader(docs, null, r));
        assertEquals(100, s.size());
        assertEquals(392, r.count(SkipReport.MISSING_IMAGE));
        assertEquals(0, ((Sample.Interleaved) s.get(0)).imageCount());
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> all(new InterleavedReader(docs, null,
                SkipReport.strict())));
        assertTrue(e.getMessage().startsWith(docs + ":1: missing image: "), e.getMessage());
    }

    @Test
    void corruptLinesAndUnknownFieldsAreCounted() throws Exception {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, """
                {"text_list": ["a b"], "image_info": []}
                {"text_list": ["c d"
                {"text_list": ["e"], "image_info": [], "extra": 1}
                """);
        SkipReport r = SkipReport.lenient();
        assertEquals(2, all(new InterleavedReader(f, null, r)).size());
        assertEquals("2 skipped (corrupt JSON 1, unknown field 1)", r.summary());
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> all(new InterleavedReader(f, null,
                SkipReport.strict())));
        assertTrue(e.getMessage().startsWith(f + ":2: corrupt JSON: "), e.getMessage());
    }

    @Test
    void emptyDatasetIsAnErrorNotAnEmptyStream() throws Exception {
        Path f = dir.resolve("empty.jsonl");
        Files.writeString(f, "{oops\n\n");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> all(new TextReader(f, 100, SkipReport.lenient())));
        assertEquals(f + ": empty dataset: no usable samples (1 skipped (corrupt JSON 1))", e.getMessage());
    }

    @Test
    void plainTextIsCutIntoParagraphDocuments() {
        Path t = TestSupport.sharedData("text").resolve("tinystories_sample.txt");
        List<Sample> s = all(new TextReader(t, 2000, SkipReport.strict()));
        assertTrue(s.size() > 50, "docs: " + s.size());
        String text = ((Sample.Text) s.get(0)).text();
        assertTrue(text.length() >= 2000 && text.length() < 6000, "length " + text.length());
        List<Sample> synthText = all(new TextReader(synth.resolve("text/train.txt"), 1, SkipReport.strict()));
        assertEquals(8, synthText.size()); // one per synthesized document at targetChars 1
    }

    @Test
    void vqaAndLlavaFromSynthesizedData() {
        List<Sample> v = all(new VqaReader(synth.resolve("vqa/questions_val.json"),
                synth.resolve("vqa/annotations_val.json"), synth.resolve("images/val"), SkipReport.strict()));
        Sample.Vqa q = (Sample.Vqa) v.get(0);
        assertEquals("how many shapes are there?", q.question());
        assertEquals(10, q.answers().size());
        assertEquals("number", q.answerType());
        List<Sample> l = all(new LlavaReader(synth.resolve("llava/val.json"), synth.resolve("images/val"),
                SkipReport.strict()));
        assertEquals(2, l.size());
        Sample.Conversation c = (Sample.Conversation) l.get(0);
        assertNotNull(c.image());
        assertEquals(new Sample.Turn("user", "<image>\nhow many shapes are there?"), c.turns().get(0));
        assertFalse(c.turns().get(1).text().isEmpty());
    }
}
