package io.mm1j.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Process memory from the operating system, for every benchmark report: {@code VmHWM} (the kernel's own
 * high-water mark of resident memory since the process started, so no sampling interval can miss a peak) and
 * {@code VmRSS} from {@code /proc/self/status}. Where there is no procfs (macOS, Windows) the fields are -1.
 */
public final class PeakRss {
    private static final Path STATUS = Path.of("/proc/self/status");

    private PeakRss() {}

    /** Peak resident set size of this process so far, in bytes, or -1 when unknown. */
    public static long peakBytes() {
        return field("VmHWM:");
    }

    /** Current resident set size in bytes, or -1 when unknown. */
    public static long currentBytes() {
        return field("VmRSS:");
    }

    /**
     * Starts a new peak: returns free heap memory to the OS ({@code malloc_trim(0)}, glibc only), so that the
     * resident set holds live data only, then resets the kernel's high-water mark ({@code 5 > clear_refs}). After
     * it, {@link #peakBytes()} − {@link #currentBytes()} (read right after the reset) is what the code in between
     * allocated at its fullest, not what an earlier phase left in the allocator.
     *
     * @return false where either step is unavailable (the peak then still counts from process start)
     */
    public static boolean resetPeak() {
        try {
            com.sun.jna.NativeLibrary.getInstance("c").getFunction("malloc_trim").invokeInt(new Object[] {0});
        } catch (RuntimeException | LinkageError e) {
            // not glibc: the resident set may include freed heap; the reset below still applies
        }
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Adds {@code peakRssBytes} and {@code rssBytes} to a benchmark report (call when the run is done). */
    public static ObjectNode addTo(ObjectNode report) {
        report.put("peakRssBytes", peakBytes());
        report.put("rssBytes", currentBytes());
        return report;
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(name)) {
                    String[] parts = line.substring(name.length()).trim().split("\\s+"); // "123456 kB"
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1; // no procfs: the report says "unknown" rather than failing the benchmark
        }
        return -1;
    }
}
