package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import java.util.function.Function;

/**
 * What the one training loop needs from an optimiser: global-norm clipping, a step with the scheduled LR, per-name
 * LR multipliers, and state for checkpoints. {@link AdamW} (pre-training, MM1 §3.3) and {@link AdaFactor} (MM1's
 * SFT, §3.4) implement it; both update only the trainable parameters of their {@link io.mm1j.nn.ParamStore}.
 */
public interface Optimizer extends AutoCloseable {
    /** Scales all gradients so that their global L2 norm is at most {@code maxNorm}; returns the norm before. */
    double clipGlobalNorm(double maxNorm);

    /** One update with learning rate {@code lr} and decoupled weight decay; zeroes grads; false when skipped. */
    boolean step(double lr, double weightDecay);

    /** Multiplies the LR of every parameter whose name starts with {@code prefix} by {@code factor}. */
    void scaleLr(String prefix, double factor);

    /** {@link #scaleLr} for implementations: records {@code factor} for each of {@code names} under the prefix. */
    static void scaleLr(Map<String, Double> lrScale, Iterable<String> names, String prefix, double factor) {
        if (!(factor >= 0) || Double.isInfinite(factor)) {
            throw new io.mm1j.Mm1Exception("learning-rate multiplier for '" + prefix + "' must be >= 0, got "
                    + factor);
        }
        for (String name : names) {
            if (name.startsWith(prefix)) {
                lrScale.put(name, factor);
            }
        }
    }

    /** The optimiser's state tensors by name, for checkpoints. */
    Map<String, NDArray> state();

    /**
     * Restores the state and step count of a checkpoint; every tensor must be present with its size.
     *
     * @param lookup tensor name → values (float32, row-major) or null when missing
     * @param where  the file, for messages
     */
    void load(Function<String, float[]> lookup, long stepCount, String where);

    void zeroGrad();

    long stepCount();

    /** Bytes of optimiser state (moments / factored statistics), what LoRA saves against full fine-tuning. */
    default long stateBytes() {
        long b = 0;
        for (NDArray a : state().values()) {
            b += a.size() * a.getDataType().getNumOfBytes();
        }
        return b;
    }

    /** Number of parameters this optimiser updates. */
    long trainableParameters();

    @Override
    void close();
}
