package io.mm1j.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Scalar NDArrays created once in a long-lived manager.
 *
 * <p>Why: {@code x.mul(javaNumber)} wraps the number in a temporary tensor over a Java direct buffer, closes it,
 * and autograd keeps a dangling reference for backward — gradients turn into garbage after any GC (DJL cookbook
 * pitfall 1). Every scalar that enters a graph with gradients comes from here instead.
 */
public final class Scalars {
    private final NDManager manager;
    private final ConcurrentHashMap<String, NDArray> cache = new ConcurrentHashMap<>();

    public Scalars(NDManager manager) {
        this.manager = manager;
    }

    /** A 0-d float32 array of {@code value}. */
    public NDArray of(double value) {
        return of(value, DataType.FLOAT32);
    }

    /** A 0-d array of {@code value} in {@code type}; the same instance for the same (value, type). */
    public NDArray of(double value, DataType type) {
        String key = type + ":" + Double.doubleToLongBits(value);
        return cache.computeIfAbsent(key, k -> {
            NDArray scalar = type == DataType.FLOAT64
                    ? manager.create(value)
                    : manager.create((float) value).toType(type, false);
            scalar.setName("scalar(" + value + ")");
            NDScope.unregister(scalar); // long-lived even when first asked for inside a step scope
            return scalar;
        });
    }

    public NDManager manager() {
        return manager;
    }
}
