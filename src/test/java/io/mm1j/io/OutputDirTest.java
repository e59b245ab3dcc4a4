package io.mm1j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputDirTest {
    @TempDir
    Path tmp;

    private List<String> names(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void contentAppearsOnlyAtCommitAndNothingElseIsLeftBeside() throws Exception {
        Path out = tmp.resolve("out");
        try (OutputDir d = OutputDir.create(out, false, "--out")) {
            Files.writeString(d.staging().resolve("a.txt"), "new");
            assertFalse(Files.exists(out));
            d.commit();
        }
        assertEquals("new", Files.readString(out.resolve("a.txt")));
        assertEquals(List.of("out"), names(tmp)); // no lock file, no staging folder
    }

    @Test
    void aFailureBeforeCommitLeavesNoFolderAndNoDebris() throws Exception {
        Path out = tmp.resolve("out");
        try (OutputDir d = OutputDir.create(out, false, "--out")) {
            Files.writeString(d.staging().resolve("half.bin"), "x");
        }
        assertEquals(List.of(), names(tmp));
    }

    @Test
    void nonEmptyFolderIsRefusedAndKept() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.writeString(out.resolve("mine.txt"), "keep me");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> OutputDir.create(out, false, "--out"));
        assertEquals("--out " + out + ": folder exists and is not empty (pass --overwrite to replace it)",
                e.getMessage());
        assertEquals("keep me", Files.readString(out.resolve("mine.txt")));
        assertEquals(List.of("out"), names(tmp));
    }

    @Test
    void overwriteReplacesTheWholeFolderSoNoStaleFileSurvives() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.writeString(out.resolve("stale.txt"), "from an earlier run");
        try (OutputDir d = OutputDir.create(out, true, "--out")) {
            Files.writeString(d.staging().resolve("fresh.txt"), "new");
            assertTrue(Files.exists(out.resolve("stale.txt")), "old content stays until the new one is complete");
            d.commit();
        }
        assertEquals(List.of("fresh.txt"), names(out));
        assertEquals(List.of("out"), names(tmp));
    }

    @Test
    void aFileWhereAFolderIsExpectedIsNamed() throws Exception {
        Path file = Files.writeString(tmp.resolve("f"), "x");
        assertEquals("--out " + file + ": is a file, not a folder",
                assertThrows(Mm1Exception.class, () -> OutputDir.create(file, true, "--out")).getMessage());
        Path under = file.resolve("sub");
        assertEquals("--out " + under + ": " + file + " is a file, not a folder",
                assertThrows(Mm1Exception.class, () -> OutputDir.create(under, false, "--out")).getMessage());
    }

    @Test
    void aSecondWriterOfTheSameFolderIsRefusedWhileTheFirstHoldsIt() throws Exception {
        Path out = tmp.resolve("out");
        try (OutputDir first = OutputDir.create(out, false, "--out")) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> OutputDir.create(out, false, "--out"));
            assertEquals("--out " + out + ": another mm1 process (pid " + ProcessHandle.current().pid() + ") is "
                    + "writing this folder (" + tmp.resolve(".out.lock") + " is locked)", e.getMessage());
            assertThrows(Mm1Exception.class, () -> OutputDir.create(out, false, "--out"),
                    "a refused attempt must not drop the holder's lock");
            first.commit();
        }
        try (OutputDir again = OutputDir.create(out, true, "--out")) { // released after close
            again.commit();
        }
    }

    @Test
    void stagingLeftByAKilledRunIsRemovedByTheNextRun() throws Exception {
        Path killed = Files.createDirectories(tmp.resolve(".out.tmp-999999"));
        Files.writeString(killed.resolve("half.bin"), "x");
        try (OutputDir d = OutputDir.create(tmp.resolve("out"), false, "--out")) {
            d.commit();
        }
        assertEquals(List.of("out"), names(tmp));
    }
}
