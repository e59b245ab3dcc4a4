package io.mm1j.io;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Paths named inside data and model files (a COCO {@code file_name}, a shard in {@code model.safetensors.index.json},
 * an image in a LLaVA record) must stay inside their root and be regular files: no {@code ../}, no absolute paths,
 * no symbolic link that leads out, no devices or FIFOs.
 */
public final class SafePaths {
    private SafePaths() {}

    /**
     * Resolves {@code relative} under {@code root} and checks that the result stays inside it (also after following
     * symbolic links) and is a regular file.
     *
     * @param source the file and field that named the path, for the message (e.g. "captions.json: images[3].file_name")
     */
    public static Path regularFileInside(Path root, String relative, String source) {
        Path p = inside(root, relative, source);
        if (!Files.exists(p)) {
            throw new Mm1Exception(source + ": file not found: " + p);
        }
        if (!Files.isRegularFile(p)) {
            throw new Mm1Exception(source + ": " + p + " is not a regular file");
        }
        try {
            Path realRoot = root.toRealPath();
            Path real = p.toRealPath();
            if (!real.startsWith(realRoot)) {
                throw new Mm1Exception(source + ": '" + relative + "' leads outside " + root + " (to " + real + ")");
            }
        } catch (IOException e) {
            throw new Mm1Exception(source + ": cannot resolve " + p + ": " + e.getMessage(), e);
        }
        return p;
    }

    /**
     * Like {@link #regularFileInside} but returns null when the file does not exist (a dataset that ships without
     * some of its images is common; a reader counts those), while a path that escapes {@code root}, is absolute,
     * or names something other than a regular file still throws.
     */
    public static Path existingRegularFileInside(Path root, String relative, String source) {
        Path p = inside(root, relative, source);
        if (!Files.exists(p)) { // follows links: a dangling link is a missing file
            return null;
        }
        return regularFileInside(root, relative, source);
    }

    /** Lexical check only (the file need not exist yet): {@code relative} is relative and stays under {@code root}. */
    public static Path inside(Path root, String relative, String source) {
        if (relative == null || relative.isEmpty()) {
            throw new Mm1Exception(source + ": empty path");
        }
        if (relative.indexOf('\0') >= 0) {
            throw new Mm1Exception(source + ": path contains a NUL character");
        }
        Path rel;
        try {
            rel = Path.of(relative);
        } catch (InvalidPathException e) {
            throw new Mm1Exception(source + ": invalid path '" + relative + "': " + e.getMessage(), e);
        }
        if (rel.isAbsolute()) {
            throw new Mm1Exception(source + ": absolute path '" + relative + "' not allowed (paths are relative to "
                    + root + ")");
        }
        Path base = root.toAbsolutePath().normalize();
        if (!base.resolve(rel).normalize().startsWith(base)) {
            throw new Mm1Exception(source + ": '" + relative + "' leads outside " + root);
        }
        return root.resolve(rel).normalize(); // in the caller's terms (relative stays relative) for messages
    }

    /** True when {@code p} is a regular file, not following a final symbolic link. */
    public static boolean isRegularNoFollow(Path p) {
        return Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS);
    }
}
