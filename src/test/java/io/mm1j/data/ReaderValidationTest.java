package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Records that training could not use correctly are refused by the readers themselves (so data check and training agree). */
class ReaderValidationTest {
    @TempDir
    Path tmp;
    Path images;

    @BeforeEach
    void layout() throws Exception {
        images = Files.createDirectories(tmp.resolve("images"));
        for (int id = 1; id <= 2; id++) {
            Files.write(images.resolve(String.format("%012d.png", id)), ReaderPathSafetyTest.png());
        }
    }

    @Test
    void vqaAnnotationWithoutAnswersIsRefused() throws Exception {
        Path q = Files.writeString(tmp.resolve("q.json"), """
                {"data_subtype": "val", "questions": [{"image_id": 1, "question": "what?", "question_id": 10},
                  {"image_id": 2, "question": "which?", "question_id": 20}]}
                """);
        Path a = Files.writeString(tmp.resolve("a.json"), """
                {"annotations": [{"question_id": 10, "answers": [], "multiple_choice_answer": "x"},
                  {"question_id": 20, "answers": [{"answer": "red"}], "multiple_choice_answer": "red"}]}
                """);
        SkipReport r = SkipReport.lenient();
        assertEquals(List.of("20"), ReadersTest.all(new VqaReader(q, a, images, r)).stream().map(Sample::id).toList());
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> ReadersTest.all(new VqaReader(q, a, images, SkipReport.strict())));
        assertEquals(a + ": annotations[0]: bad record: question 10 has no answers (needs a non-empty 'answers' "
                + "array)", e.getMessage());
    }

    @Test
    void vqaDataSubtypeThatIsNotAPlainNameIsRefused() throws Exception {
        Path q = Files.writeString(tmp.resolve("q.json"), """
                {"data_subtype": "../../etc", "questions": [{"image_id": 1, "question": "what?", "question_id": 1}]}
                """);
        assertEquals(q + ": data_subtype '../../etc' is not a plain name (letters, digits, '_', '-', '.')",
                assertThrows(Mm1Exception.class, () -> new VqaReader(q, null, images, SkipReport.lenient()))
                        .getMessage());
    }

    @Test
    void mmc4MatchedTextIndexOutsideTheTextListRefusesTheDocument() throws Exception {
        Path docs = Files.writeString(tmp.resolve("docs.jsonl"),
                "{\"text_list\": [\"one\", \"two\"], \"image_info\": [{\"image_name\": \"000000000001.png\", "
                        + "\"matched_text_index\": 2}]}\n"
                        + "{\"text_list\": [\"one\"], \"image_info\": [{\"image_name\": \"000000000001.png\", "
                        + "\"matched_text_index\": 0}]}\n");
        SkipReport r = SkipReport.lenient();
        assertEquals(1, ReadersTest.all(new InterleavedReader(docs, ImageStore.open(images), r)).size());
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> ReadersTest.all(new InterleavedReader(docs,
                ImageStore.open(images), SkipReport.strict())));
        assertEquals(docs + ":1: bad record: image_info[0].matched_text_index 2 is not a sentence index (text_list "
                + "has 2 sentences)", e.getMessage());
    }

    @Test
    void duplicateCocoImageIdIsRefused() throws Exception {
        Path json = Files.writeString(tmp.resolve("c.json"), """
                {"images": [{"id": 1, "file_name": "000000000001.png"}, {"id": 1, "file_name": "000000000002.png"}],
                 "annotations": [{"image_id": 1, "id": 1, "caption": "a"}]}
                """);
        SkipReport r = SkipReport.lenient();
        assertEquals(1, ReadersTest.all(new CocoCaptionsReader(json, images, r)).size());
        assertEquals("1 skipped (bad record 1)", r.summary());
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> ReadersTest.all(new CocoCaptionsReader(json, images, SkipReport.strict())));
        assertEquals(json + ": images[1]: bad record: duplicate image id 1 (first at images[0])", e.getMessage());
    }

    @Test
    void duplicateCocoAnnotationIdIsRefusedSoNoCaptionCountsTwice() throws Exception {
        Path json = Files.writeString(tmp.resolve("c.json"), """
                {"images": [{"id": 1, "file_name": "000000000001.png"}],
                 "annotations": [{"image_id": 1, "id": 7, "caption": "a"}, {"image_id": 1, "id": 7, "caption": "a"}]}
                """);
        SkipReport r = SkipReport.lenient();
        Sample.Caption c = (Sample.Caption) ReadersTest.all(new CocoCaptionsReader(json, images, r)).get(0);
        assertEquals(List.of("a"), c.captions());
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> new CocoCaptionsReader(json, images, SkipReport.strict()));
        assertEquals(json + ": annotations[1]: bad record: duplicate annotation id 7 (first at annotations[0])",
                e.getMessage());
    }

    @Test
    void emptyImageFileIsABadImageNotASample() throws Exception {
        Files.write(images.resolve("000000000002.png"), new byte[0]);
        Path json = Files.writeString(tmp.resolve("c.json"), """
                {"images": [{"id": 1, "file_name": "000000000001.png"}, {"id": 2, "file_name": "000000000002.png"}],
                 "annotations": [{"image_id": 1, "id": 1, "caption": "a"}, {"image_id": 2, "id": 2, "caption": "b"}]}
                """);
        SkipReport r = SkipReport.lenient();
        assertEquals(1, ReadersTest.all(new CocoCaptionsReader(json, images, r)).size());
        assertEquals("1 skipped (bad image 1)", r.summary());
    }

    @Test
    void readersThatNeedAnImageFolderSaySoInsteadOfCrashing() throws Exception {
        Path json = Files.writeString(tmp.resolve("c.json"), "{\"images\": [], \"annotations\": []}");
        assertEquals(json + ": COCO captions need the image folder their file_name entries are relative to",
                assertThrows(Mm1Exception.class, () -> new CocoCaptionsReader(json, null, SkipReport.lenient()))
                        .getMessage());
    }
}
