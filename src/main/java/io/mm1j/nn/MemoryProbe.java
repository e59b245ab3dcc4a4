package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Live NDArray bytes in a manager tree, and the peak of that count over a forward pass (sampled at the end of every
 * freeing block, when a block's intermediates are all still alive — see {@link BlockScope#setProbe}). Counts what
 * DJL holds, not what the allocator keeps: a view counts as the bytes it spans, so the figure is an upper bound
 * that is comparable between runs of the same code.
 */
public final class MemoryProbe implements AutoCloseable {
    private final NDManager manager;
    private long peak;
    private int samples;

    /** Starts sampling {@code manager}'s tree at every block end (one probe per JVM at a time). */
    public MemoryProbe(NDManager manager) {
        this.manager = manager;
        this.peak = liveBytes(manager);
        BlockScope.setProbe(this::sample);
    }

    /** Bytes of every open NDArray in {@code manager} and its sub-managers. */
    public static long liveBytes(NDManager manager) {
        long bytes = 0;
        for (NDArray a : manager.getManagedArrays()) {
            bytes += a.getShape().size() * a.getDataType().getNumOfBytes();
        }
        return bytes;
    }

    /** Takes one sample now (also called by {@link BlockScope} at each block end). */
    public void sample() {
        peak = Math.max(peak, liveBytes(manager));
        samples++;
    }

    /** Highest live byte count seen so far. */
    public long peakBytes() {
        return peak;
    }

    /** Number of samples taken (0 means no freeing block ran). */
    public int samples() {
        return samples;
    }

    @Override
    public void close() {
        BlockScope.setProbe(null);
    }
}
