package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InitGenerateTest {
    @TempDir
    Path tmp;

    private Path png(String name, Color c) throws Exception {
        BufferedImage img = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(c);
        g.fillRect(5, 5, 20, 15);
        g.dispose();
        Path p = tmp.resolve(name);
        ImageIO.write(img, "png", p.toFile());
        return p;
    }

    @Test
    void initWritesAModelThatGenerateAcceptsWithAndWithoutImages() throws Exception {
        Path dir = tmp.resolve("tiny");
        CliTest.Result init = CliTest.run("init", "--preset", "tiny-test", "--out", dir.toString(), "--seed", "1");
        assertEquals(0, init.code(), init.err());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
        CliTest.Result text = CliTest.run("generate", "--model", dir.toString(), "--prompt", "the image",
                "--max-tokens", "5");
        assertEquals(0, text.code(), text.err());
        Path red = png("red.png", Color.RED);
        Path blue = png("blue.png", Color.BLUE);
        String[] args = {"generate", "--model", dir.toString(), "--image", red.toString(), "--image",
            blue.toString(), "--prompt", "<image> and <image> differ", "--max-tokens", "6"};
        CliTest.Result a = CliTest.run(args);
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), CliTest.run(args).out(), "greedy generation is deterministic");
    }

    @Test
    void slotCountMismatchAndBadImagesAreOneLineErrors() throws Exception {
        Path dir = tmp.resolve("tiny");
        assertEquals(0, CliTest.run("init", "--preset", "tiny-test", "--out", dir.toString()).code());
        Path red = png("red.png", Color.RED);
        CliTest.Result r = CliTest.run("generate", "--model", dir.toString(), "--image", red.toString(),
                "--prompt", "no slot here");
        assertEquals(1, r.code());
        assertEquals("mm1: error: prompt has 0 <image> slot(s) but 1 image(s) were given\n", r.err());
        Path empty = tmp.resolve("empty.jpg");
        Files.write(empty, new byte[0]);
        CliTest.Result e = CliTest.run("generate", "--model", dir.toString(), "--image", empty.toString(),
                "--prompt", "<image>");
        assertEquals(1, e.code());
        assertTrue(e.err().startsWith("mm1: error: " + empty), e.err());
        assertEquals(1, e.err().lines().count(), e.err());
    }

    @Test
    void textOnlyModelRefusesImages() throws Exception {
        Path stories = io.mm1j.TestSupport.sharedData("stories260k");
        Path red = png("red.png", Color.RED);
        CliTest.Result r = CliTest.run("generate", "--model", stories.toString(), "--image", red.toString(),
                "--prompt", "<image>");
        assertEquals(1, r.code());
        assertEquals("mm1: error: " + stories + ": text-only model; it cannot take --image\n", r.err());
        // without images, '<image>' in the prompt is text to a text-only model
        CliTest.Result text = CliTest.run("generate", "--model", stories.toString(), "--prompt",
                "The <image> tag", "--max-tokens", "3");
        assertEquals(0, text.code(), text.err());
    }

    @Test
    void initRefusesATokenizerWhoseSpecialIdsDifferFromMm1jsLayout() throws Exception {
        Path stories = io.mm1j.TestSupport.sharedData("stories260k");
        Path out = tmp.resolve("m");
        CliTest.Result r = CliTest.run("init", "--preset", "tiny-test", "--out", out.toString(), "--tokenizer",
                stories.resolve("tokenizer.json").toString());
        assertEquals(1, r.code());
        assertEquals("mm1: error: " + stories.resolve("tokenizer.json") + ": special token <pad> must have id 0 "
                + "(mm1j's reserved layout), found none\n", r.err());
        assertFalse(Files.exists(out), "no half-made model folder");
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(), s.toList(), "no lock or staging debris");
        }
    }

    @Test
    void initRefusesPresetsThatDoNotFitInMemoryAndNonEmptyFolders() throws Exception {
        CliTest.Result big = CliTest.run("init", "--preset", "mm1-30b", "--out", tmp.resolve("big").toString());
        assertEquals(1, big.code());
        assertTrue(big.err().startsWith("mm1: error: preset mm1-30b needs 123.8 GiB for FP32 weights; this machine "
                + "has "), big.err());
        Files.writeString(tmp.resolve("x.txt"), "keep me");
        CliTest.Result full = CliTest.run("init", "--preset", "tiny-test", "--out", tmp.toString());
        assertEquals("mm1: error: --out " + tmp + ": folder exists and is not empty (pass --overwrite to replace "
                + "it)\n", full.err());
        assertEquals("keep me", Files.readString(tmp.resolve("x.txt")));
    }

    @Test
    void initIntoAFileNamesIt() throws Exception {
        Path file = Files.writeString(tmp.resolve("model"), "not a folder");
        CliTest.Result r = CliTest.run("init", "--preset", "tiny-test", "--out", file.toString());
        assertEquals("mm1: error: --out " + file + ": is a file, not a folder\n", r.err());
    }
}
