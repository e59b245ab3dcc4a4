package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A data file that is not UTF-8 fails with its path, the line and the byte offset of the first bad byte. */
class BadUtf8Test {
    @TempDir
    Path dir;

    /** Three lines; byte {@code at} of line 3 replaced by {@code bad}. */
    private Path file(String name, String line3, int at, int bad) throws Exception {
        byte[] head = "{\"text\": \"one\"}\n{\"text\": \"two\"}\n".getBytes(StandardCharsets.UTF_8);
        byte[] last = line3.getBytes(StandardCharsets.UTF_8);
        last[at] = (byte) bad;
        byte[] all = new byte[head.length + last.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(last, 0, all, head.length, last.length);
        return Files.write(dir.resolve(name), all);
    }

    @Test
    void jsonlAndPlainTextNameFileLineAndOffset() throws Exception {
        Path jsonl = file("t.jsonl", "{\"text\": \"three\"}\n", 11, 0xFF); // offset 32 + 11
        assertEquals(jsonl + ":3: not valid UTF-8 text (byte offset 43)", assertThrows(Mm1Exception.class,
                () -> ReadersTest.all(new TextReader(jsonl, 100, SkipReport.lenient()))).getMessage());
        Path txt = file("t.txt", "caf\u00e9\n", 4, '('); // é = C3 A9: the continuation byte replaced
        assertEquals(txt + ":3: not valid UTF-8 text (byte offset 35)", assertThrows(Mm1Exception.class,
                () -> ReadersTest.all(new TextReader(txt, 100, SkipReport.lenient()))).getMessage());
    }

    @Test
    void aWholeJsonFileNamesLineAndOffset() throws Exception {
        byte[] b = "{\"images\": [],\n\"annotations\": [\n\"caf\u00e9\"]}\n".getBytes(StandardCharsets.UTF_8);
        b[36] = (byte) 0xFF; // the lead byte of é (C3 A9) becomes FF, never valid in UTF-8
        Path json = Files.write(dir.resolve("captions.json"), b);
        assertEquals(json + ":3: not valid UTF-8 text (byte offset 36)", assertThrows(Mm1Exception.class,
                () -> new CocoCaptionsReader(json, dir, SkipReport.lenient())).getMessage());
    }
}
