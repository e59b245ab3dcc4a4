package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.cli.DataCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DataCommandTest {
    @TempDir
    Path dir;

    @Test
    void synthWritesAllFormats() {
        CommandLine cli = new CommandLine(new DataCommand());
        StringWriter out = new StringWriter();
        cli.setOut(new PrintWriter(out));
        int rc = cli.execute("synth", "--out", dir.toString(), "--images", "10", "--size", "24", "--seed", "4");
        assertEquals(0, rc);
        assertTrue(out.toString().startsWith("wrote " + dir + ": 10 images, "), out.toString());
        for (String f : new String[] {"coco/captions_train.json", "wds/train-000000.tar", "interleaved/train.jsonl",
                "vqa/questions_val.json", "vqa/annotations_test.json", "llava/train.json", "text/train.txt",
                "images/train/000000000001.png", "manifest.json"}) {
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
    }

    @Test
    void synthPrintsItsSummaryOnceAsIntegers() {
        CommandLine cli = new CommandLine(new DataCommand());
        StringWriter out = new StringWriter();
        cli.setOut(new PrintWriter(out));
        assertEquals(0, cli.execute("synth", "--out", dir.resolve("s").toString(), "--images", "3", "--size", "16"));
        // One line, from the CLI (the library logs it at debug only); every count an integer.
        com.fasterxml.jackson.databind.JsonNode m = manifest(dir.resolve("s"));
        assertEquals("wrote " + dir.resolve("s") + ": 3 images, " + m.get("documents").asInt() + " documents ("
                + m.get("documentImages").asInt() + " images), " + m.get("questions").asInt() + " questions, "
                + m.get("textDocuments").asInt() + " text documents" + System.lineSeparator(), out.toString());
    }

    private static com.fasterxml.jackson.databind.JsonNode manifest(Path synth) {
        try {
            return Json.MAPPER.readTree(synth.resolve("manifest.json").toFile());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void synthRefusesANonEmptyFolderAndKeepsItsFiles() throws Exception {
        Files.writeString(dir.resolve("notes.txt"), "mine");
        CommandLine cli = new CommandLine(new DataCommand());
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err));
        assertEquals(1, cli.execute("synth", "--out", dir.toString(), "--images", "3", "--size", "16"));
        assertEquals("mine", Files.readString(dir.resolve("notes.txt")));
        assertEquals(List.of(dir.resolve("notes.txt")), list(dir));
    }

    @Test
    void synthOverwriteLeavesNoFileOfTheEarlierDataset() throws Exception {
        Path out = dir.resolve("synth");
        SynthWriter.write(out, 12, 16, 1);
        Path stale = Files.writeString(out.resolve("wds/train-000009.tar"), "a shard of a killed earlier run");
        CommandLine cli = new CommandLine(new DataCommand());
        cli.setOut(new PrintWriter(new StringWriter()));
        assertEquals(0, cli.execute("synth", "--out", out.toString(), "--images", "3", "--size", "16",
                "--overwrite"));
        assertFalse(Files.exists(stale));
        assertEquals(3, Json.MAPPER.readTree(out.resolve("manifest.json").toFile()).get("images").asInt());
        assertEquals(List.of(out), list(dir)); // no lock file, staging or old copy beside it
    }

    @Test
    void synthIntoAFileIsAClearError() throws Exception {
        Path file = Files.writeString(dir.resolve("f.txt"), "x");
        io.mm1j.Mm1Exception e = assertThrows(io.mm1j.Mm1Exception.class, () -> SynthWriter.write(file, 3, 16, 1));
        assertEquals("--out " + file + ": is a file, not a folder", e.getMessage());
    }

    private static List<Path> list(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }

    @Test
    void rejectsTinyImages() {
        CommandLine cli = new CommandLine(new DataCommand());
        cli.setErr(new PrintWriter(new StringWriter()));
        assertEquals(1, cli.execute("synth", "--out", dir.toString(), "--size", "8"));
    }
}
