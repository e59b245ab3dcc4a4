package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.Mm1Exception;

/**
 * Preallocated key/value cache for incremental decoding: per layer {@code keys, values (B, KV, capacity, hd)},
 * written in place; attention reads the prefix view {@code [:, :, :length]}.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private final int capacity;
    private int length;

    public KvCache(NDManager parent, int layers, int batch, int kvHeads, int headDim, int capacity, DataType dtype) {
        this.manager = parent.newSubManager();
        this.capacity = capacity;
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
        Shape shape = new Shape(batch, kvHeads, capacity, headDim);
        for (int i = 0; i < layers; i++) {
            keys[i] = manager.zeros(shape, dtype);
            values[i] = manager.zeros(shape, dtype);
            NDScope.unregister(keys[i], values[i]);
        }
    }

    /** Tokens already in the cache (the absolute position of the next token). */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /**
     * Writes {@code k, v (B, KV, T, hd)} at positions length..length+T-1 of {@code layer} and returns views of all
     * cached keys and values (B, KV, length+T, hd). Call {@link #advance} once all layers are written.
     */
    public NDArray[] append(int layer, NDArray k, NDArray v) {
        long t = k.getShape().get(2);
        if (length + t > capacity) {
            throw new Mm1Exception("KV cache full: " + (length + t) + " positions needed, capacity " + capacity);
        }
        NDIndex slot = new NDIndex().addAllDim().addAllDim().addSliceDim(length, length + t);
        keys[layer].set(slot, k);
        values[layer].set(slot, v);
        NDIndex prefix = new NDIndex().addAllDim().addAllDim().addSliceDim(0, length + t);
        return new NDArray[] {keys[layer].get(prefix), values[layer].get(prefix)};
    }

    public void advance(int t) {
        length += t;
    }

    /** Forgets everything (buffers are reused). */
    public void reset() {
        length = 0;
    }

    @Override
    public void close() {
        manager.close();
    }
}
