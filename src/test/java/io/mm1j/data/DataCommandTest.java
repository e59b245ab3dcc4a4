package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.cli.DataCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
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
    void rejectsTinyImages() {
        CommandLine cli = new CommandLine(new DataCommand());
        cli.setErr(new PrintWriter(new StringWriter()));
        assertEquals(1, cli.execute("synth", "--out", dir.toString(), "--size", "8"));
    }
}
