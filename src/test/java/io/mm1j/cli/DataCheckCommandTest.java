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
}
