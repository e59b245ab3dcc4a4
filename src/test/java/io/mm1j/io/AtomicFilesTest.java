package io.mm1j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path tmp;

    @Test
    void aFailedWriteKeepsTheOldFileAndLeavesNoTempFile() throws Exception {
        Path f = Files.writeString(tmp.resolve("tokenizer.json"), "old");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> AtomicFiles.write(f, out -> {
            out.write("half".getBytes());
            throw new IOException("disk full");
        }));
        assertEquals(f + ": cannot write: disk full", e.getMessage());
        assertEquals("old", Files.readString(f));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(f), s.toList());
        }
    }

    @Test
    void aCompleteWriteReplacesTheFile() throws Exception {
        Path f = Files.writeString(tmp.resolve("a.json"), "old");
        AtomicFiles.writeString(f, "new");
        assertEquals("new", Files.readString(f));
    }

    /** A written file gets the permissions any new file gets here (the umask's), not a temp file's owner-only. */
    @Test
    void aWrittenFileHasTheUsualPermissions() throws Exception {
        Path plain = Files.writeString(tmp.resolve("plain.txt"), "x");
        Path atomic = tmp.resolve("atomic.txt");
        AtomicFiles.writeString(atomic, "x");
        if (Files.getFileStore(tmp).supportsFileAttributeView("posix")) {
            assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(atomic));
        }
        try (var s = Files.list(tmp)) {
            assertEquals(java.util.List.of("atomic.txt", "plain.txt"), s.map(p -> p.getFileName().toString()).sorted()
                    .toList(), "no temp file left");
        }
    }
}
