package io.mm1j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafePathsTest {
    @TempDir
    Path tmp;

    private String error(Path root, String relative) {
        return assertThrows(Mm1Exception.class, () -> SafePaths.regularFileInside(root, relative, "f.json: x"))
                .getMessage();
    }

    @Test
    void aFileInsideTheRootResolves() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root/sub"));
        Files.writeString(root.resolve("a.png"), "x");
        assertEquals(root.resolve("a.png"), SafePaths.regularFileInside(tmp.resolve("root"), "sub/./a.png", "s"));
    }

    @Test
    void dotDotAndAbsolutePathsAreRefusedEvenWhenTheFileExists() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.writeString(tmp.resolve("secret.txt"), "x");
        assertEquals("f.json: x: '../secret.txt' leads outside " + root, error(root, "../secret.txt"));
        String abs = tmp.resolve("secret.txt").toString();
        assertEquals("f.json: x: absolute path '" + abs + "' not allowed (paths are relative to " + root + ")",
                error(root, abs));
    }

    @Test
    void aSymbolicLinkLeadingOutOfTheRootIsRefused() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Path secret = Files.writeString(tmp.resolve("secret.txt"), "x");
        Files.createSymbolicLink(root.resolve("img.png"), secret);
        assertEquals("f.json: x: 'img.png' leads outside " + root + " (to " + secret.toRealPath() + ")",
                error(root, "img.png"));
    }

    @Test
    void onlyRegularFilesAreAccepted() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root/dir"));
        assertEquals("f.json: x: " + root + " is not a regular file", error(tmp.resolve("root"), "dir"));
    }

    @Test
    void aMissingButSafeFileIsNullForReadersThatCountMissingFiles() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        assertNull(SafePaths.existingRegularFileInside(root, "nope.png", "s"));
        assertThrows(Mm1Exception.class, () -> SafePaths.existingRegularFileInside(root, "../nope.png", "s"));
    }
}
