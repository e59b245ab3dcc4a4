package io.mm1j.io;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * An output folder that is never half-made and never replaces a user's files by accident (the rule for every
 * command that creates a folder: {@code data synth}, {@code init}, {@code eval}, {@code pretrain}, …).
 *
 * <ul>
 *   <li>A non-empty existing folder is refused unless {@code overwrite}; a path that is a file is refused.</li>
 *   <li>Content is built in a hidden sibling {@code .NAME.tmp-PID} and renamed onto {@code NAME} by {@link #commit};
 *       an existing folder (with {@code overwrite}) is moved aside first and deleted only after the rename.</li>
 *   <li>A lock file {@code .NAME.lock} beside the folder is held from {@link #create} until {@link #close}, so two
 *       runs on one {@code --out} cannot both succeed.</li>
 *   <li>{@link #close} without {@link #commit} (a failure) deletes the staging folder: no {@code .tmp} debris; the
 *       staging folders of killed runs, which could not clean up, are deleted by the next {@link #create}.</li>
 * </ul>
 *
 * <pre>{@code
 * try (OutputDir out = OutputDir.create(path, overwrite)) {
 *     write files under out.staging() ...
 *     out.commit();
 * }
 * }</pre>
 */
public final class OutputDir implements AutoCloseable {
    private final Path target;
    private final Path staging;
    private final FolderLock lock;
    private final boolean overwrite;
    private boolean committed;

    private OutputDir(Path target, Path staging, FolderLock lock, boolean overwrite) {
        this.target = target;
        this.staging = staging;
        this.lock = lock;
        this.overwrite = overwrite;
    }

    /**
     * Checks {@code target} (absent, an empty folder, or a non-empty folder with {@code overwrite}), takes the
     * lock, removes what killed runs left behind, and creates an empty staging folder.
     *
     * @param what the option that named the folder, for messages (e.g. "--out")
     */
    public static OutputDir create(Path target, boolean overwrite, String what) {
        Path abs = target.toAbsolutePath().normalize();
        if (abs.getParent() == null) {
            throw new Mm1Exception(what + " " + target + ": cannot write into the file system root");
        }
        checkWritable(target, overwrite, what);
        Path parent = abs.getParent();
        checkAncestorsAreFolders(target, parent, what);
        String name = abs.getFileName().toString();
        Path lockFile = parent.resolve("." + name + ".lock");
        FolderLock lock = null;
        try {
            Files.createDirectories(parent);
            lock = FolderLock.tryAcquire(lockFile);
            if (lock == null) {
                String who = FolderLock.holder(lockFile);
                throw new Mm1Exception(what + " " + target + ": another mm1 process " + (who.isEmpty() ? "" : "("
                        + who + ") ") + "is writing this folder (" + lockFile + " is locked)");
            }
            checkWritable(target, overwrite, what); // re-check under the lock: another run may have just finished
            // Under the lock no other run is building this folder, so every staging sibling is what a killed run
            // (kill -9, power loss) left behind; removing it keeps killed runs from piling up hidden copies.
            deleteStaleStaging(parent, name);
            Path staging = parent.resolve(stagingPrefix(name) + ProcessHandle.current().pid());
            Files.createDirectories(staging);
            return new OutputDir(abs, staging, lock, overwrite);
        } catch (IOException e) {
            closeQuietly(lock);
            throw new Mm1Exception(what + " " + target + ": cannot create: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(lock);
            throw e;
        }
    }

    private static String stagingPrefix(String name) {
        return "." + name + ".tmp-";
    }

    private static void deleteStaleStaging(Path parent, String name) throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(parent, stagingPrefix(name) + "*")) {
            for (Path p : s) {
                deleteTree(p);
            }
        }
    }

    /** "--out a/b/c" where a or a/b is a file would otherwise surface as a bare FileAlreadyExistsException. */
    private static void checkAncestorsAreFolders(Path target, Path parent, String what) {
        for (Path p = parent; p != null; p = p.getParent()) {
            if (Files.exists(p)) {
                if (!Files.isDirectory(p)) {
                    throw new Mm1Exception(what + " " + target + ": " + p + " is a file, not a folder");
                }
                return;
            }
        }
    }

    /** Refuses a file, or a non-empty folder without {@code overwrite}; the message names the option to pass. */
    public static void checkWritable(Path target, boolean overwrite, String what) {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(target)) {
            throw new Mm1Exception(what + " " + target + ": is a file, not a folder");
        }
        if (!overwrite && !isEmptyOrAbsent(target)) {
            throw new Mm1Exception(what + " " + target + ": folder exists and is not empty (pass --overwrite to "
                    + "replace it)");
        }
    }

    /**
     * Refuses an output folder that is, or contains, an input the command reads ({@code --out} = {@code --model}
     * with --overwrite would replace the very model being read): one line naming both options.
     */
    public static void refuseOverInput(Path out, String what, Path input, String inputWhat) {
        if (input == null || out == null) {
            return;
        }
        Path o = real(out);
        Path i = real(input);
        if (i.startsWith(o)) {
            throw new Mm1Exception(what + " " + out + ": " + (i.equals(o) ? "is" : "contains") + " the " + inputWhat
                    + " folder it reads (" + input + "); write the output elsewhere");
        }
    }

    /** The real path when it exists (links resolved), else the absolute normalised one. */
    private static Path real(Path p) {
        try {
            return Files.exists(p) ? p.toRealPath() : p.toAbsolutePath().normalize();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    /** True when {@code dir} does not exist or is an empty folder. */
    public static boolean isEmptyOrAbsent(Path dir) {
        if (!Files.isDirectory(dir)) {
            return !Files.exists(dir, LinkOption.NOFOLLOW_LINKS);
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            return !s.iterator().hasNext();
        } catch (IOException e) {
            throw new Mm1Exception(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    /** Where content is written until {@link #commit}. */
    public Path staging() {
        return staging;
    }

    /** The final folder. */
    public Path target() {
        return target;
    }

    /** Moves the staging folder onto the target; an old target (overwrite) is deleted only after that. */
    public void commit() {
        try {
            Path aside = null;
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                if (!overwrite && !isEmptyOrAbsent(target)) {
                    throw new Mm1Exception(target + ": folder appeared while writing; output left in " + staging);
                }
                aside = target.resolveSibling("." + target.getFileName() + ".old-" + ProcessHandle.current().pid());
                deleteTree(aside);
                Files.move(target, aside);
            }
            AtomicFiles.moveAtomically(staging, target);
            committed = true;
            if (aside != null) {
                deleteTree(aside);
            }
        } catch (IOException e) {
            throw new Mm1Exception(target + ": cannot move the finished output into place: " + e.getMessage()
                    + " (output kept in " + staging + ")", e);
        }
    }

    /** Releases the lock; without a commit, deletes the staging folder. */
    @Override
    public void close() {
        try {
            if (!committed) {
                deleteTree(staging);
            }
        } catch (IOException ignored) {
            // best effort: never mask the failure that brought us here
        } finally {
            lock.close();
        }
    }

    /** Deletes a folder tree without following symbolic links out of it. */
    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void closeQuietly(FolderLock lock) {
        if (lock != null) {
            lock.close();
        }
    }
}
