package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SynthWriterTest {
    @TempDir
    Path dir;

    private static List<Path> files(Path root) throws Exception {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(root::relativize).sorted().toList();
        }
    }

    @Test
    void sameSeedGivesByteIdenticalOutput() throws Exception {
        SynthWriter.write(dir.resolve("a"), 12, 32, 5);
        SynthWriter.write(dir.resolve("b"), 12, 32, 5);
        List<Path> a = files(dir.resolve("a"));
        assertEquals(a, files(dir.resolve("b")));
        assertTrue(a.size() > 20, "files: " + a);
        for (Path p : a) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(p)),
                    Files.readAllBytes(dir.resolve("b").resolve(p)), p.toString());
        }
        SynthWriter.write(dir.resolve("c"), 12, 32, 6);
        assertNotEquals(Files.readString(dir.resolve("a/coco/captions_train.json")),
                Files.readString(dir.resolve("c/coco/captions_train.json")));
    }

    /** The text of a split computed alone is the very file the whole world holds (text-only users need no pictures). */
    @Test
    void textAloneIsTheWorldsTextFile() throws Exception {
        SynthWriter.write(dir.resolve("w"), 40, 16, 3);
        for (String split : SynthWriter.SPLITS) {
            assertEquals(Files.readString(dir.resolve("w/text/" + split + ".txt")), SynthWriter.text(40, 3, split),
                    split);
        }
        assertEquals("", SynthWriter.text(2, 3, "val"), "2 pictures: no val split");
    }

    @Test
    void splitsAre80_10_10() {
        assertArrayEquals(new int[] {80, 10, 10}, SynthWriter.splitSizes(100));
        assertArrayEquals(new int[] {1, 1, 1}, SynthWriter.splitSizes(3));
        assertArrayEquals(new int[] {2, 0, 0}, SynthWriter.splitSizes(2));
    }

    @Test
    void labelsFollowTheScene() {
        Scene s = new Scene(List.of(new Scene.Item(Scene.Shape.CIRCLE, Scene.Colour.RED, true, 0, 0),
                new Scene.Item(Scene.Shape.CIRCLE, Scene.Colour.RED, false, 0, 2),
                new Scene.Item(Scene.Shape.SQUARE, Scene.Colour.ORANGE, true, 1, 1)), "STOP", 0);
        assertEquals("two red circles and an orange square", SyntheticWorld.listing(s));
        SyntheticWorld w = new SyntheticWorld(1);
        List<SyntheticWorld.VqaItem> qs = w.questions(s, new SplittableRandom(3));
        assertEquals("3", qs.get(0).answer(), "counts in digits, as VQAv2");
        assertEquals(10, qs.get(0).answers().size());
        assertTrue(qs.stream().anyMatch(q -> q.question().equals("what does the sign say?")
                && q.answer().equals("stop")));
        assertTrue(qs.stream().anyMatch(q -> q.question().equals("what color is the square?")
                && q.answer().equals("orange")));
        assertEquals(5, w.captions(s, new SplittableRandom(3)).size());
        BufferedImage img = s.render(48);
        assertEquals(Scene.Colour.RED.rgb.getRGB(), img.getRGB(8, 8)); // centre of the top-left cell
        assertEquals(Scene.Colour.ORANGE.rgb.getRGB(), img.getRGB(24, 24));
    }

    @Test
    void documentsPlaceEachPictureBeforeItsSentence() {
        SyntheticWorld.Document d = new SyntheticWorld(2).document(0);
        assertEquals(d.scenes().size(), d.matchedSentence().size());
        for (int k = 0; k < d.scenes().size(); k++) {
            assertTrue(d.sentences().get(d.matchedSentence().get(k)).startsWith("Picture "));
        }
        assertTrue(d.sentences().get(d.sentences().size() - 1).startsWith("Together the pictures show "));
    }
}
