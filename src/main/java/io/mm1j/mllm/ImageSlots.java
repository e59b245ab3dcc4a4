package io.mm1j.mllm;

import java.util.Arrays;

/**
 * MM1's image slot layout (MM1_SPEC.md §1): one image occupies k consecutive placeholder ids, which the model
 * overwrites with the connector's k outputs ({@link ImageSplicer}). The one place that expands a slot, shared by
 * training-side packing ({@code data.SequencePacker}), few-shot prompts and {@link PromptBuilder}.
 */
public final class ImageSlots {
    private ImageSlots() {}

    /** Writes one slot (k copies of {@code imageTokenId}) at {@code at}; returns the position after it. */
    public static int fill(long[] ids, int at, int k, long imageTokenId) {
        Arrays.fill(ids, at, at + k, imageTokenId);
        return at + k;
    }

    /** Number of {@code imageTokenId} ids in {@code ids} (one per slot before expansion). */
    public static int count(long[] ids, long imageTokenId) {
        int n = 0;
        for (long id : ids) {
            n += id == imageTokenId ? 1 : 0;
        }
        return n;
    }

    /**
     * {@code prefix} (e.g. BOS, may be empty) followed by {@code body} with each single {@code imageTokenId} expanded
     * to k copies.
     */
    public static long[] expand(long[] prefix, long[] body, long imageTokenId, int k) {
        int slots = count(body, imageTokenId);
        long[] out = new long[prefix.length + body.length + slots * (k - 1)];
        System.arraycopy(prefix, 0, out, 0, prefix.length);
        int j = prefix.length;
        for (long id : body) {
            if (id == imageTokenId) {
                j = fill(out, j, k, imageTokenId);
            } else {
                out[j++] = id;
            }
        }
        return out;
    }
}
