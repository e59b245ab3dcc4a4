package io.mm1j.nn;

import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The native heap's policy for large blocks (glibc only), which decides how much of a training step's freed
 * memory stays resident.
 *
 * <p>libtorch allocates tensors with {@code malloc}. glibc serves blocks above its mmap threshold (128 KiB at
 * start) with mappings of their own, returned to the OS on {@code free}; but each such free raises the threshold
 * to the freed size (up to 32 MiB), so after the first step nearly every activation comes from the heap arenas,
 * where freed blocks stay resident and fragment. {@code MM1_MMAP_THRESHOLD=bytes} fixes the threshold
 * ({@code mallopt(M_MMAP_THRESHOLD, n)}, which also switches the dynamic adjustment off), so every block of at
 * least that size is mapped and unmapped again and resident memory follows the live tensors. Measured on
 * {@code mini} (batch 8 × 256, activation checkpointing, 2026-11-30): a step's resident growth 160–175 MB with
 * glibc's default, 96 MB at 1 MiB; the price is the kernel zeroing every fresh page (15–18k minor faults per step
 * → 189k, ~3 µs each here), so it is off unless asked for. {@code mm1 bench train-step} reports both
 * ({@code measuredActivationBytes}, {@code minorFaultsPerStep}).
 *
 * <p>Unless {@code MM1_MMAP_THRESHOLD} is set, the CLI applies the <b>reuse</b> policy instead ({@link #reuse}):
 * every block comes from the heap (no per-block mappings), and up to {@value #REUSE_TRIM_BYTES} bytes of freed
 * memory at the heap's top stay mapped, so a training step's activations reuse the pages the previous step freed
 * rather than being unmapped and faulted in (and zeroed) again. Measured on {@code mini} (batch 8 × 256,
 * 2026-11-30): 25–42k minor faults per step with glibc's default → 8–16k with the heap thresholds alone → about 20
 * with no mappings at all, and 0.54–0.71 → 0.41–0.46 s/step together with the fused kernels; peak RSS 0.80–0.83 →
 * 0.86–0.88 GB (freed memory is kept for the next peak). {@code MM1_MMAP_THRESHOLD=off} keeps glibc's default.
 */
public final class NativeAllocator {
    /** mallopt's parameter number for the mmap threshold (glibc {@code malloc.h}). */
    private static final int M_MMAP_THRESHOLD = -3;
    /** mallopt's parameter numbers for the trim threshold and the top pad. */
    private static final int M_TRIM_THRESHOLD = -1;
    private static final int M_TOP_PAD = -2;
    /** mallopt's parameter number for the most mmap-served blocks at once (0: none). */
    private static final int M_MMAP_MAX = -4;
    /** Freed bytes at the heap's top kept mapped under the reuse policy (more than a {@code mini} step's peak). */
    static final int REUSE_TRIM_BYTES = 1 << 30;
    /** Extra bytes requested whenever the heap grows under the reuse policy. */
    static final int REUSE_TOP_PAD_BYTES = 64 << 20;
    /** glibc's largest allowed fixed threshold on 64-bit ({@code HEAP_MAX_SIZE / 2}). */
    static final long MAX_THRESHOLD = 32L << 20;

    private static long applied = -1;
    private static String policy = "default";

    private NativeAllocator() {}

    /**
     * Applies {@code MM1_MMAP_THRESHOLD} when it is set (the CLI calls this once at start-up).
     *
     * @return the threshold now in force, or -1 (unset, {@code off}, or not glibc)
     */
    public static long applyFromEnvironment() {
        String env = System.getenv("MM1_MMAP_THRESHOLD");
        long bytes = override(env, -1);
        if (env == null || env.isBlank()) {
            return reuse() ? MAX_THRESHOLD : -1;
        }
        return fix(bytes);
    }

    /**
     * The reuse policy: mmap threshold 32 MiB (glibc's largest) and no mmap-served blocks at all, trim threshold
     * {@value #REUSE_TRIM_BYTES}, top pad {@value #REUSE_TOP_PAD_BYTES}; freed pages stay mapped for the next
     * allocation.
     *
     * @return true when applied (glibc with mallopt), false when the heap was left alone
     */
    public static synchronized boolean reuse() {
        if (!isGlibc()) {
            return false;
        }
        try {
            com.sun.jna.Function mallopt = com.sun.jna.NativeLibrary.getInstance("c").getFunction("mallopt");
            boolean ok = mallopt.invokeInt(new Object[] {M_MMAP_THRESHOLD, (int) MAX_THRESHOLD}) == 1
                    && mallopt.invokeInt(new Object[] {M_TRIM_THRESHOLD, REUSE_TRIM_BYTES}) == 1
                    && mallopt.invokeInt(new Object[] {M_TOP_PAD, REUSE_TOP_PAD_BYTES}) == 1
                    // blocks of 32 MiB and more (the logits' gradient at 2,048 tokens × 4,096 vocab) from the heap
                    // too: a mapping of their own would be faulted in, page by page, at every step; a request
                    // larger than a thread arena's 64 MiB heap falls back to the main heap (glibc retries there)
                    && mallopt.invokeInt(new Object[] {M_MMAP_MAX, 0}) == 1;
            policy = ok ? "reuse" : policy;
            applied = ok ? MAX_THRESHOLD : applied;
            return ok;
        } catch (RuntimeException | LinkageError e) {
            return false; // no mallopt: leave the heap as it is
        }
    }

    /** The policy in force: {@code reuse}, {@code fixed} (MM1_MMAP_THRESHOLD bytes), or {@code default} (glibc's). */
    public static synchronized String policy() {
        return policy;
    }

    /** Fixes glibc's mmap threshold at {@code bytes} for the rest of the process; -1 leaves it alone. */
    public static synchronized long fix(long bytes) {
        if (bytes < 0 || !isGlibc()) {
            return -1;
        }
        if (applied == bytes) {
            return bytes;
        }
        try {
            int ok = com.sun.jna.NativeLibrary.getInstance("c").getFunction("mallopt")
                    .invokeInt(new Object[] {M_MMAP_THRESHOLD, (int) bytes});
            applied = ok == 1 ? bytes : -1;
            policy = ok == 1 ? "fixed" : "default";
        } catch (RuntimeException | LinkageError e) {
            applied = -1; // no mallopt: leave the heap as it is
        }
        return applied;
    }

    /** The threshold set by this class, or -1 when it has not set one (glibc's dynamic default). */
    public static synchronized long threshold() {
        return applied;
    }

    /** {@code MM1_MMAP_THRESHOLD}'s value applied to a default: bytes, {@code off} (-1), or unset (the default). */
    static long override(String env, long fallback) {
        if (env == null || env.isBlank()) {
            return fallback;
        }
        String v = env.trim();
        if (v.equalsIgnoreCase("off")) {
            return -1;
        }
        long n;
        try {
            n = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new Mm1Exception("MM1_MMAP_THRESHOLD must be a number of bytes or 'off', got '" + v + "'");
        }
        if (n < 4096 || n > MAX_THRESHOLD) {
            throw new Mm1Exception("MM1_MMAP_THRESHOLD must be between 4096 and " + MAX_THRESHOLD + " bytes (or "
                    + "'off'), got " + n);
        }
        return n;
    }

    private static boolean isGlibc() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return false;
        }
        // musl (Alpine) has no mallopt thresholds; its loader is named ld-musl-*
        try (var s = Files.list(Path.of("/lib"))) {
            return s.noneMatch(p -> p.getFileName().toString().startsWith("ld-musl"));
        } catch (java.io.IOException | RuntimeException e) {
            return true;
        }
    }

    /** Minor page faults of this process so far ({@code /proc/self/stat} field 10), or -1 when unknown. */
    public static long minorFaults() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" "); // f[0] is field 3 (state)
            return Long.parseLong(f[7]);
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }
}
