package io.mm1j.data;

import java.util.List;

/**
 * One training batch as the model consumes it (DESIGN.md "data path"). Token arrays are flat row-major [B, T].
 *
 * @param batchSize   B (rows actually filled; the last batch of a finite stream may be smaller)
 * @param seqLen      T
 * @param tokens      [B, T] input ids; each image occupies {@code imageTokens} consecutive {@code <image>} ids
 * @param targets     [B, T] next-token ids (tokens shifted left by one)
 * @param lossMask    [B, T] 1 where the target is trained on; 0 for image slots, padding, BOS and prompts
 * @param images      the images in (row, position) order with their pixels [3, H, W]
 * @param imageTokens k, placeholder positions per image
 * @param cursor      the data cursor to resume after this batch
 * @param segments    [B, T] the packed sample (document) each position belongs to, numbered from 0 within its row;
 *                    -1 for padding. Attention can be kept inside a document ({@code data.mask_between_documents})
 * @param sources     [B, T] the mixture source index of each position's sample, -1 for padding or unknown
 */
public record Batch(int batchSize, int seqLen, long[] tokens, long[] targets, float[] lossMask, List<ImageSlot> images,
                    int imageTokens, MixtureSampler.Cursor cursor, int[] segments, byte[] sources) {
    /** An image whose k slots start at {@code firstSlot} of {@code row}. */
    public record ImageSlot(int row, int firstSlot, float[] pixels) {}

    /** Number of targets that carry loss. */
    public long trainedTokens() {
        long n = 0;
        for (float m : lossMask) {
            n += m > 0 ? 1 : 0;
        }
        return n;
    }

    /** All images' pixels concatenated, [N, 3, H, W] row-major (what the vision encoder takes). */
    public float[] imagePixels() {
        int per = images.isEmpty() ? 0 : images.get(0).pixels().length;
        float[] out = new float[images.size() * per];
        for (int i = 0; i < images.size(); i++) {
            System.arraycopy(images.get(i).pixels(), 0, out, i * per, per);
        }
        return out;
    }

    /** The same batch with every image's pixels set to 0 (the mean image after CLIP normalisation): a blind baseline. */
    public Batch blind() {
        List<ImageSlot> zeroed = images.stream()
                .map(s -> new ImageSlot(s.row(), s.firstSlot(), new float[s.pixels().length])).toList();
        return new Batch(batchSize, seqLen, tokens, targets, lossMask, zeroed, imageTokens, cursor, segments, sources);
    }
}
