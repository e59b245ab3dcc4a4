package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataCheckCommandTest {
    @TempDir
    Path tmp;

    @Test
    void corruptJsonLineIsCountedOrFailsWithFileAndLineWhenStrict() throws Exception {
        Path f = tmp.resolve("docs.jsonl");
        Files.writeString(f, "{\"text\": \"a fine line of text about shapes\"}\n{not json\n"
                + "{\"text\": \"another line of text\"}\n");
        CliTest.Result lenient = CliTest.run("data", "check", "--format", "text", f.toString());
        assertEquals(0, lenient.code(), lenient.err());
        assertTrue(lenient.out().contains("skipped 1 (corrupt JSON 1)"), lenient.out());
        CliTest.Result strict = CliTest.run("data", "check", "--format", "text", "--strict", f.toString());
        assertEquals(1, strict.code());
        assertTrue(strict.err().startsWith("mm1: error: " + f + ":2: corrupt JSON"), strict.err());
    }

    @Test
    void emptyDatasetIsAnErrorNotZeroSamples() throws Exception {
        Path f = tmp.resolve("empty.txt");
        Files.writeString(f, "");
        CliTest.Result r = CliTest.run("data", "check", "--format", "text", f.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("mm1: error: " + f + ": empty dataset: no usable samples"), r.err());
    }

    private Path cocoWithImages(byte[] second) throws Exception {
        Path images = Files.createDirectories(tmp.resolve("images"));
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_INT_RGB),
                "png", b);
        Files.write(images.resolve("1.png"), b.toByteArray());
        Files.write(images.resolve("2.png"), second == null ? b.toByteArray() : second);
        return Files.writeString(tmp.resolve("captions.json"), """
                {"images": [{"id": 1, "file_name": "1.png"}, {"id": 2, "file_name": "2.png"}],
                 "annotations": [{"image_id": 1, "id": 1, "caption": "a"}, {"image_id": 2, "id": 2, "caption": "b"}]}
                """);
    }

    @Test
    void cleanDataPrintsCountsWithoutAnEmptySkipSummary() throws Exception {
        Path json = cocoWithImages(null);
        CliTest.Result r = CliTest.run("data", "check", "--format", "coco", "--images", tmp.resolve("images")
                .toString(), "--strict", json.toString());
        assertEquals("coco: 2 samples (caption 2), 2 images decoded; skipped 0\n", r.out());
    }

    @Test
    void truncatedImageFailsStrictAndIsCountedOtherwise() throws Exception {
        byte[] whole = Files.readAllBytes(cocoWithImages(null).resolveSibling("images/1.png"));
        Path json = cocoWithImages(java.util.Arrays.copyOf(whole, whole.length / 2));
        String images = tmp.resolve("images").toString();
        CliTest.Result lenient = CliTest.run("data", "check", "--format", "coco", "--images", images, json.toString());
        assertEquals(0, lenient.code(), lenient.err());
        assertEquals("coco: 1 sample (caption 1), 1 image decoded; skipped 1 (bad image 1)\n", lenient.out());
        CliTest.Result strict = CliTest.run("data", "check", "--format", "coco", "--images", images, "--strict",
                json.toString());
        assertEquals(1, strict.code());
        assertTrue(strict.err().startsWith("mm1: error: " + json + ": sample 2: bad image: " + tmp.resolve(
                "images/2.png") + ": "), strict.err());
    }

    @Test
    void emptyImageFailsStrict() throws Exception {
        Path json = cocoWithImages(new byte[0]);
        CliTest.Result strict = CliTest.run("data", "check", "--format", "coco", "--images", tmp.resolve("images")
                .toString(), "--strict", json.toString());
        assertEquals("mm1: error: " + json + ": images[1]: bad image: " + tmp.resolve("images/2.png") + ": empty "
                + "file (0 bytes)\n", strict.err());
    }

    @Test
    void formatsWithImageNamesNeedImagesAndSaySo() throws Exception {
        Path json = cocoWithImages(null);
        for (String format : new String[] {"coco", "vqa", "llava"}) {
            CliTest.Result r = CliTest.run("data", "check", "--format", format, json.toString());
            assertEquals("mm1: error: --format " + format + " needs --images FOLDER (the folder its image names are "
                    + "relative to)\n", r.err());
        }
    }
}
