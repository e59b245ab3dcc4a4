package io.mm1j.data;

import io.mm1j.Mm1Exception;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a reader does with bad input. Real web data is dirty (mmc4 ships image URLs that have died, JSONL dumps have
 * truncated lines), so by default a bad record is skipped, counted under its reason, and the first few of each
 * reason are logged with file:line; {@link #summary()} gives the totals at the end. In strict mode the first bad
 * record fails the run with file:line, for when a dataset is supposed to be clean.
 */
public final class SkipReport {
    private static final Logger LOG = LoggerFactory.getLogger(SkipReport.class);
    /** Warnings logged per reason before only counting. */
    static final int LOGGED_PER_REASON = 3;

    public static final String MISSING_IMAGE = "missing image";
    public static final String CORRUPT_JSON = "corrupt JSON";
    public static final String MISSING_MEMBER = "tar sample without its pair member";
    public static final String UNKNOWN_FIELD = "unknown field";
    public static final String BAD_RECORD = "bad record";
    /** A path from the data that leaves its root (../, absolute, a link out) or names a device, FIFO or folder. */
    public static final String UNSAFE_PATH = "unsafe path";
    /** A tar member that is a link, device or FIFO where an image or text was expected. */
    public static final String NOT_REGULAR = "not a regular file";
    /** An image file that is empty or that the training decoder cannot read (corrupt, truncated, too large). */
    public static final String BAD_IMAGE = "bad image";

    private final boolean strict;
    private final Map<String, AtomicLong> counts = new TreeMap<>();

    public SkipReport(boolean strict) {
        this.strict = strict;
    }

    public static SkipReport lenient() {
        return new SkipReport(false);
    }

    public static SkipReport strict() {
        return new SkipReport(true);
    }

    public boolean isStrict() {
        return strict;
    }

    /**
     * Records one problem at {@code where} ("file:line" or "file:member"); throws in strict mode.
     *
     * @param reason one of the constants (the summary's key)
     * @param detail what exactly is wrong, for the message
     */
    public synchronized void skip(String reason, String where, String detail) {
        String message = where + ": " + reason + ": " + detail;
        if (strict) {
            throw new Mm1Exception(message);
        }
        long n = counts.computeIfAbsent(reason, r -> new AtomicLong()).incrementAndGet();
        if (n <= LOGGED_PER_REASON && firstTime(message)) {
            LOG.warn("skipped: {}{}", message, n == LOGGED_PER_REASON ? " (further '" + reason
                    + "' warnings only counted)" : "");
        }
    }

    /** Messages already logged by this process (bounded): a source read again (each epoch, the validation split,
     *  another report on the same files) does not repeat the warnings it gave the first time. */
    private static final java.util.Set<String> LOGGED = new java.util.HashSet<>();
    private static final int LOGGED_MAX = 10_000;

    private static boolean firstTime(String message) {
        synchronized (LOGGED) {
            if (LOGGED.size() >= LOGGED_MAX) {
                return !LOGGED.contains(message);
            }
            return LOGGED.add(message);
        }
    }

    public synchronized long count(String reason) {
        AtomicLong n = counts.get(reason);
        return n == null ? 0 : n.get();
    }

    public synchronized long total() {
        return counts.values().stream().mapToLong(AtomicLong::get).sum();
    }

    /** The counts by reason, in alphabetical order of reason (a copy). */
    public synchronized Map<String, Long> counts() {
        Map<String, Long> out = new TreeMap<>();
        counts.forEach((r, n) -> out.put(r, n.get()));
        return out;
    }

    /** "2 skipped (corrupt JSON 1, missing image 1)" or "0 skipped". */
    public synchronized String summary() {
        return counts.isEmpty() ? "0 skipped" : total() + " skipped (" + reasons() + ")";
    }

    /** "corrupt JSON 1, missing image 1" (reasons in alphabetical order), or "" when nothing was skipped. */
    public synchronized String reasons() {
        StringBuilder sb = new StringBuilder();
        counts.forEach((r, n) -> sb.append(sb.length() == 0 ? "" : ", ").append(r).append(' ').append(n.get()));
        return sb.toString();
    }

    /** Logs the summary (readers call this when their stream ends). */
    public void logSummary(String source) {
        if (total() > 0) {
            LOG.warn("{}: {}", source, summary());
        }
    }
}
