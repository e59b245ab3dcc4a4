package io.mm1j.data;

/**
 * splitmix64's finaliser (Steele, Lea and Flood, 2014): a bijection of 64-bit values whose output bits each depend on
 * every input bit. mm1j's draws that must be pure functions of (seed, step, …), so that a resumed run draws what an
 * uninterrupted one draws, combine their inputs into one long and pass it through this.
 */
public final class SplitMix64 {
    private SplitMix64() {}

    /** The mixed value of {@code z}. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** A uniform double in [0, 1) from the top 53 bits of {@link #mix}. */
    public static double uniform(long z) {
        return (mix(z) >>> 11) * 0x1.0p-53;
    }
}
