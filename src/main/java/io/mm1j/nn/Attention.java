package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Scaled dot-product attention with grouped key/value heads (GQA), and the additive masks it uses.
 *
 * <p>GQA without copying K/V: query head h uses KV head h / g (HF {@code repeat_kv}); the H query heads are laid
 * out KV-major, so {@code q (B, H, T, hd)} reshapes to {@code (B, KV, g·T, hd)} and attends to
 * {@code k (B, KV, S, hd)} directly.
 */
public final class Attention {
    /** Large finite negative instead of -inf: a fully masked row stays finite (uniform) instead of NaN. */
    public static final double MASKED = -1e9;
    /** {@link #MASKED} for FP16 scores (largest FP16 is 65504): still exp(·) = 0 after the softmax's max shift. */
    public static final double MASKED_FP16 = -3e4;

    /** The additive mask value for scores of {@code dtype}. */
    public static double masked(DataType dtype) {
        return dtype == DataType.FLOAT16 ? MASKED_FP16 : MASKED;
    }

    /**
     * Scores budget of one query block in inference: 32 MiB keeps ViT-L/14-336 at batch 8 (170 MB of scores per
     * layer) to a sixth of its plain footprint while each block's matmuls stay large enough to run at full speed.
     */
    public static final long SCORE_BLOCK_BYTES = 32L << 20;

    private final NDManager manager;
    private final Map<String, NDArray> causalCache = new ConcurrentHashMap<>();

    public Attention(NDManager manager) {
        this.manager = manager;
    }

    /**
     * softmax(q·kᵀ·scale + mask)·v. Without gradient recording, long sequences are computed over blocks of queries
     * ({@link #SCORE_BLOCK_BYTES} of scores at a time, see {@link #attend(NDArray, NDArray, NDArray, NDArray,
     * NDArray, long)}); under recording autograd keeps every score anyway, so one block is cheapest.
     *
     * @param q     (B, H, T, hd)
     * @param k     (B, KV, S, hd)
     * @param v     (B, KV, S, hd)
     * @param mask  additive, broadcastable to (B, 1, 1, T, S), or null
     * @param scale 1/sqrt(hd) as a cached scalar
     * @return (B, H, T, hd)
     */
    public static NDArray attend(NDArray q, NDArray k, NDArray v, NDArray mask, NDArray scale) {
        return attend(q, k, v, mask, false, scale);
    }

    /**
     * The same, by libtorch's fused kernel ({@link ScriptKernels}) when it is available for these arrays: no score
     * matrix is materialised or kept for the backward; otherwise composed, in query blocks when not recording.
     *
     * @param causal true when {@code mask} is exactly the causal mask of a full sequence (T = S, from position 0),
     *               which the fused kernel applies itself, skipping the masked blocks
     */
    public static NDArray attend(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causal, NDArray scale) {
        if (fusable(q, mask)) {
            boolean flag = causal && mask != null; // the kernel builds the causal mask itself
            NDArray out = ScriptKernels.attention(q, k, v, flag || mask == null ? null : fourDims(mask), flag, scale);
            if (out != null) {
                return out;
            }
        }
        return attend(q, k, v, mask, scale, BlockScope.recording() ? Long.MAX_VALUE : SCORE_BLOCK_BYTES);
    }

    /**
     * Whether the fused kernel takes these arrays: float32/64 queries (B, H, T, hd), and a mask absent or of the
     * same dtype in mm1j's (B | 1, 1, 1, T, S) or (B | 1, 1, T, S) layout.
     */
    private static boolean fusable(NDArray q, NDArray mask) {
        DataType t = q.getDataType();
        if (!ScriptKernels.enabled() || (t != DataType.FLOAT32 && t != DataType.FLOAT64)
                || q.getShape().dimension() != 4) {
            return false;
        }
        if (mask == null) {
            return true;
        }
        Shape s = mask.getShape();
        return mask.getDataType() == t && (s.dimension() == 5 && s.get(1) == 1 && s.get(2) == 1
                || s.dimension() == 4 && s.get(1) == 1);
    }

    /** A {@link #fusable} mask as the fused kernel takes it: (B | 1, 1, T, S). */
    private static NDArray fourDims(NDArray mask) {
        Shape s = mask.getShape();
        return s.dimension() == 4 ? mask : mask.reshape(s.get(0), 1, s.get(3), s.get(4));
    }

    /** Whether {@code mask} is one of this instance's cached full-sequence causal masks ({@link #causal}). */
    public boolean isCausal(NDArray mask) {
        return mask != null && causalCache.values().stream().anyMatch(c -> c == mask);
    }

    /**
     * Attention with at most {@code maxScoreBytes} of scores materialised at once: the queries are split into
     * blocks of rows and each block is attended on its own. This is exact, not an approximation: softmax
     * normalises each query row over the keys, and a block holds whole rows (no online-softmax rescaling is
     * needed, unlike key-blocked flash attention). Each block's scores are freed before the next one is formed
     * when gradients are not recorded ({@link BlockScope}).
     *
     * @param maxScoreBytes budget for one block of scores (B·H·rows·S elements); at least one query row per block
     */
    public static NDArray attend(NDArray q, NDArray k, NDArray v, NDArray mask, NDArray scale, long maxScoreBytes) {
        Shape qs = q.getShape();
        long t = qs.get(2);
        long rowBytes = qs.get(0) * qs.get(1) * k.getShape().get(2) * q.getDataType().getNumOfBytes();
        if (t == 1 || rowBytes * t <= maxScoreBytes) {
            return attendBlock(q, k, v, mask, scale);
        }
        long rows = Math.max(1, maxScoreBytes / rowBytes);
        boolean maskPerQuery = mask != null && mask.getShape().get(mask.getShape().dimension() - 2) == t;
        NDList parts = new NDList();
        for (long t0 = 0; t0 < t; t0 += rows) {
            long t1 = Math.min(t, t0 + rows);
            NDIndex queries = new NDIndex("..., {}:{}, :", t0, t1);
            NDArray qb = q.get(queries); // (B, H, rows, hd)
            NDArray mb = maskPerQuery ? mask.get(queries) : mask; // (.., rows, S) or broadcast over queries
            parts.add(BlockScope.run(() -> attendBlock(qb, k, v, mb, scale)));
        }
        NDArray out = NDArrays.concat(parts, 2); // (B, H, T, hd)
        if (!BlockScope.recording()) {
            parts.close();
        }
        return out;
    }

    private static NDArray attendBlock(NDArray q, NDArray k, NDArray v, NDArray mask, NDArray scale) {
        Shape qs = q.getShape();
        long b = qs.get(0);
        long h = qs.get(1);
        long t = qs.get(2);
        long hd = qs.get(3);
        long kv = k.getShape().get(1);
        long s = k.getShape().get(2);
        long g = h / kv;
        // the scale on the queries (hd per row) rather than on the scores (S per row): 4× fewer products at
        // T = 256, hd = 64, and exact there (1/8 is a power of two)
        NDArray qg = q.mul(scale).reshape(b, kv, g * t, hd); // (B, KV, g·T, hd)
        NDArray scores = qg.matMul(k.transpose(0, 1, 3, 2)); // (B, KV, g·T, S)
        if (mask != null) {
            scores = scores.reshape(b, kv, g, t, s).add(mask).reshape(b, kv, g * t, s);
        }
        NDArray p = scores.softmax(-1);
        return p.matMul(v).reshape(b, h, t, hd); // (B, KV, g·T, hd) → (B, H, T, hd)
    }

    /**
     * Additive mask (1, 1, 1, T, S) letting query i (absolute position start+i) see keys 0..start+i. The
     * full-sequence mask (start = 0, T = S) is cached because training uses one shape for thousands of steps;
     * other shapes (prefill after a cached prefix) are built in the caller's scope.
     */
    public NDArray causal(int t, int s, int start, DataType dtype) {
        if (start != 0 || t != s) {
            return buildCausal(manager, t, s, start, dtype);
        }
        return causalCache.computeIfAbsent(t + ":" + dtype, k -> {
            NDArray mask = buildCausal(manager, t, s, 0, dtype);
            NDScope.unregister(mask);
            return mask;
        });
    }

    private static NDArray buildCausal(NDManager manager, int t, int s, int start, DataType dtype) {
        try (NDManager tmp = manager.newSubManager()) {
            NDArray keys = tmp.arange(0, s, 1, DataType.INT64).reshape(1, s);
            NDArray queries = tmp.arange(start, start + t, 1, DataType.INT64).reshape(t, 1);
            NDArray future = keys.gt(queries).toType(dtype, false); // 1 where the key lies in the future
            NDArray mask = future.mul(masked(dtype)).reshape(1, 1, 1, t, s);
            mask.attach(manager);
            return mask;
        }
    }

    /**
     * Additive padding mask (B, 1, 1, 1, S) from {@code keep (B, S)} with 1 for real tokens and 0 for padding.
     * Created in the caller's scope (it changes with every batch).
     */
    public static NDArray padding(NDArray keep, DataType dtype) {
        long b = keep.getShape().get(0);
        long s = keep.getShape().get(1);
        NDArray one = keep.getManager().ones(new Shape(), dtype);
        return one.sub(keep.toType(dtype, false)).mul(masked(dtype)).reshape(b, 1, 1, 1, s);
    }

    /**
     * Additive document mask (B, 1, 1, T, T) from {@code segments (B, T)}: query i may see key j only when both
     * belong to the same packed sample. Padding (segment -1) forms its own segment, so every query row keeps at
     * least itself visible and the softmax stays finite.
     */
    public static NDArray documents(NDArray segments, DataType dtype) {
        long b = segments.getShape().get(0);
        long t = segments.getShape().get(1);
        NDArray q = segments.reshape(b, t, 1);
        NDArray k = segments.reshape(b, 1, t);
        NDArray other = q.neq(k).toType(dtype, false); // 1 where query and key lie in different samples
        NDArray masked = segments.getManager().full(new Shape(), (float) masked(dtype), dtype);
        return other.mul(masked).reshape(b, 1, 1, t, t);
    }
}
