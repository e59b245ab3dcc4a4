package io.mm1j.io;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An exclusive lock on a lock file ({@code .NAME.lock} beside an output), released by the OS if the process dies,
 * so a killed run never blocks the next one. Two pitfalls of OS file locks are handled here:
 * <ul>
 *   <li>POSIX drops <em>all</em> of a process's locks on a file when <em>any</em> descriptor of it is closed, so
 *       this JVM never opens the lock file again while it holds it (held locks are tracked in {@link #HELD}).</li>
 *   <li>The file is deleted on release; a run that opened it just before would then lock an unlinked inode while
 *       a third run locks the new file. The file's identity is compared before opening and after locking (by
 *       {@code stat}, which opens no descriptor), and a mismatch retries on the new file.</li>
 * </ul>
 * The holder's pid is written into the file, for the message another run shows.
 */
public final class FolderLock implements AutoCloseable {
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();
    private static final int ATTEMPTS = 5;

    private final Path file;
    private final Path key;
    private final FileChannel channel;
    private final FileLock lock;

    private FolderLock(Path file, Path key, FileChannel channel, FileLock lock) {
        this.file = file;
        this.key = key;
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock, or returns null when another process or another lock in this JVM holds it. */
    public static FolderLock tryAcquire(Path file) {
        Path key = file.toAbsolutePath().normalize();
        if (!HELD.add(key)) {
            return null;
        }
        FolderLock taken = null;
        try {
            for (int i = 0; i < ATTEMPTS; i++) {
                Attempt a = attempt(file, key);
                if (a.busy()) {
                    return null;
                }
                if (a.lock() != null) {
                    taken = a.lock();
                    return taken;
                }
            }
            return null;
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot take the lock: " + e.getMessage(), e);
        } finally {
            if (taken == null) {
                HELD.remove(key);
            }
        }
    }

    /** The outcome of one try: the lock, "busy" (another process holds it), or neither (the file changed: retry). */
    private record Attempt(FolderLock lock, boolean busy) {
        static final Attempt BUSY = new Attempt(null, true);
        static final Attempt RETRY = new Attempt(null, false);
    }

    private static Attempt attempt(Path file, Path key) throws IOException {
        try {
            Files.newByteChannel(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        } catch (FileAlreadyExistsException ignored) {
            // another run's lock file, or a leftover: locking it decides
        }
        Object before = identity(file);
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.WRITE);
        } catch (NoSuchFileException e) {
            return Attempt.RETRY; // deleted by a finishing holder between the calls: the next try creates it
        }
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            ch.close(); // safe: this process holds no lock on the file
            return Attempt.BUSY;
        }
        if (before == null || !before.equals(identity(file))) {
            ch.close(); // we locked a file its holder had just deleted: try the new one
            return Attempt.RETRY;
        }
        byte[] who = ("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8);
        ch.truncate(0);
        ch.write(ByteBuffer.wrap(who), 0);
        return new Attempt(new FolderLock(file, key, ch, lock), false);
    }

    /** The file's identity (device and inode where the platform has them), without opening it; null if absent. */
    private static Object identity(Path file) throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return Objects.requireNonNullElse(a.fileKey(), "no-file-key"); // platforms without keys: trust the lock
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Who holds {@code file} ("pid 1234"), or "" when unknown; for messages. */
    public static String holder(Path file) {
        if (HELD.contains(file.toAbsolutePath().normalize())) {
            return "pid " + ProcessHandle.current().pid(); // reading the file would drop our own lock (see above)
        }
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return ""; // released meanwhile, or unreadable
        }
    }

    /** Deletes the lock file while still holding the lock, then releases it. */
    @Override
    public void close() {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a leftover lock file is harmless: the lock lives on the open channel, not on the file's existence
        }
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel below releases it too
        } finally {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing left to release
            }
            HELD.remove(key);
        }
    }
}
