package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.function.Supplier;

/**
 * Inference that frees as it goes (DJL cookbook pitfall 13). DJL frees nothing by reference count: every
 * intermediate of a forward pass lives until its {@link NDScope} or manager closes, so a scope around a whole ViT
 * keeps all 24 layers' attention scores alive at once. Without gradient recording a block's intermediates are
 * dead once it returns, so each block here runs in its own scope that keeps only what the block returns and
 * hands it to the caller's scope.
 *
 * <p>Under gradient recording nothing changes: autograd needs the intermediates for backward, and some of them
 * wrap Java buffers that must stay owned by their NDArray until then (pitfall 1), so closing them early is unsafe.
 */
public final class BlockScope {
    /** Sees the moment a block has finished and all its intermediates are still alive (peak-memory probes). */
    private static volatile Runnable probe;

    private BlockScope() {}

    /**
     * True while libtorch records operations for autograd on this thread: inside a {@code GradientCollector}, or on
     * a thread where grad mode was never switched off (libtorch enables it per thread by default; DJL switches it
     * off only on the thread that loads the engine).
     */
    public static boolean recording() {
        return JniUtils.isGradMode();
    }

    /**
     * Runs {@code body} with gradient recording off on this thread, then restores the thread's previous mode.
     * Inference entry points use it: libtorch records by default on every thread except the one that loaded the
     * engine, so a server's or executor's worker would otherwise keep every intermediate for a backward that
     * never comes. Not for code inside a {@code GradientCollector}: nothing it computes would get gradients.
     */
    public static <T> T noGrad(Supplier<T> body) {
        boolean before = JniUtils.isGradMode();
        if (!before) {
            return body.get();
        }
        JniUtils.setGradMode(false);
        try {
            return body.get();
        } finally {
            JniUtils.setGradMode(true);
        }
    }

    /** Runs one block; without gradient recording its intermediates are closed when it returns. */
    public static NDArray run(Supplier<NDArray> block) {
        if (recording()) {
            return block.get();
        }
        NDArray out;
        try (NDScope scope = new NDScope()) {
            out = block.get();
            observe();
            NDScope.unregister(out);
        }
        NDScope.register(out); // the caller's scope (if any) owns it now
        return out;
    }

    /** {@link #run} for a block with several outputs (e.g. hidden state and an auxiliary loss); nulls allowed. */
    public static NDList runAll(Supplier<NDList> block) {
        if (recording()) {
            return block.get();
        }
        NDList out;
        try (NDScope scope = new NDScope()) {
            out = block.get();
            observe();
            out.forEach(a -> {
                if (a != null) {
                    NDScope.unregister(a);
                }
            });
        }
        out.forEach(a -> {
            if (a != null) {
                NDScope.register(a);
            }
        });
        return out;
    }

    /** One step of a chain of blocks: {@code (x, i) → x'} for block i. */
    @FunctionalInterface
    public interface Step {
        NDArray apply(NDArray x, int i);
    }

    /**
     * Blocks {@code from .. to-1} applied in order to {@code x}. Without gradient recording each block runs in its
     * own scope and the previous block's output is closed as soon as the next one exists, so the chain holds one
     * residual stream plus one block's intermediates at a time, whatever the depth ({@code x} itself, owned by the
     * caller, is never closed).
     */
    public static NDArray chain(NDArray x, int from, int to, Step step) {
        boolean free = !recording();
        NDArray h = x;
        for (int i = from; i < to; i++) {
            NDArray in = h;
            int layer = i;
            NDArray next = run(() -> step.apply(in, layer));
            if (free && in != x && next != in) {
                in.close();
            }
            h = next;
        }
        return h;
    }

    /**
     * Intermediates budget of one row block in {@link #perRow}: 32 MiB, the same as one block of attention scores.
     */
    public static final long ROW_BLOCK_BYTES = 32L << 20;

    /**
     * A per-token function (an MLP, a norm) applied to {@code x (…, D)}. Without gradient recording the rows are
     * processed in blocks whose widest intermediate ({@code widest} values per row) stays within
     * {@link #ROW_BLOCK_BYTES}, each block's intermediates freed before the next: exact, since no row depends on
     * another. Under recording it is one call (autograd keeps everything anyway).
     */
    public static NDArray perRow(NDArray x, long widest, java.util.function.UnaryOperator<NDArray> f) {
        Shape s = x.getShape();
        long d = s.get(s.dimension() - 1);
        long rows = s.size() / d;
        long block = Math.max(1, ROW_BLOCK_BYTES / (widest * x.getDataType().getNumOfBytes()));
        if (recording() || rows <= block) {
            return f.apply(x);
        }
        NDArray flat = x.reshape(rows, d); // (M, D)
        NDList parts = new NDList();
        for (long r0 = 0; r0 < rows; r0 += block) {
            NDArray part = flat.get(new NDIndex("{}:{}", r0, Math.min(rows, r0 + block)));
            parts.add(run(() -> f.apply(part)));
        }
        NDArray out = NDArrays.concat(parts, 0); // (M, D')
        parts.close();
        long[] shape = s.getShape().clone();
        shape[shape.length - 1] = out.getShape().get(1);
        return out.reshape(shape);
    }

    /**
     * Installs a probe called at the end of every freeing block, before its intermediates are released (the
     * moment of highest live memory inside a block); {@code null} removes it. For memory tests and benchmarks.
     */
    public static void setProbe(Runnable p) {
        probe = p;
    }

    private static void observe() {
        Runnable p = probe;
        if (p != null) {
            p.run();
        }
    }
}
