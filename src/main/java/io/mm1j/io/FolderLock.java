package io.mm1j.io;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An exclusive lock on a lock file ({@code .NAME.lock} beside an output), released by the OS if the process dies,
 * so a killed run never blocks the next one. The holder writes a token (pid and a per-lock counter) into the file
 * and reads it back through the path: the file is deleted on release, and a run that opened the old file just
 * before it was deleted would otherwise lock an unlinked inode while a third run locks the new file — the token
 * read-back detects that and retries on the new file.
 */
public final class FolderLock implements AutoCloseable {
    private static final AtomicLong COUNTER = new AtomicLong();
    private static final int ATTEMPTS = 5;

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private FolderLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock, or returns null when another process (or another lock in this JVM) holds it. */
    public static FolderLock tryAcquire(Path file) {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            FileChannel ch = null;
            try {
                ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE);
                FileLock lock;
                try {
                    lock = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    lock = null; // held by this JVM
                }
                if (lock == null) {
                    ch.close();
                    return null;
                }
                String token = "pid " + ProcessHandle.current().pid() + " lock " + COUNTER.incrementAndGet() + "\n";
                ch.truncate(0);
                ch.write(ByteBuffer.wrap(token.getBytes(StandardCharsets.UTF_8)), 0);
                ch.force(true);
                if (token.equals(readQuietly(file))) {
                    return new FolderLock(file, ch, lock);
                }
                ch.close(); // we locked a file that its holder had just deleted: try the new one
            } catch (IOException e) {
                closeQuietly(ch);
                throw new Mm1Exception(file + ": cannot take the lock: " + e.getMessage(), e);
            }
        }
        return null;
    }

    /** Who holds {@code file} ("pid 1234"), or "" when unknown; for messages. */
    public static String holder(Path file) {
        String s = readQuietly(file);
        int lock = s.indexOf(" lock ");
        return lock < 0 ? "" : s.substring(0, lock);
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return ""; // absent (just released) or unreadable: callers treat both as "not ours"
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
        }
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing left to release
            }
        }
    }
}
