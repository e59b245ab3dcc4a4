package io.mm1j.mllm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.mm1j.nn.Ops;
import io.mm1j.Mm1Exception;

/**
 * Puts image tokens into the decoder's input sequence — the one place MM1's splicing happens (STYLE rule 7).
 *
 * <p>Layout: every image occupies k consecutive positions holding the {@code <image>} placeholder id, where k is the
 * connector's token count (144 in MM1). Images are assigned to placeholder runs in reading order (batch row, then
 * position). The splice is a single differentiable gather from {@code [text embeddings; image embeddings]}, so
 * gradients reach both the token embedding and the connector/encoder, and no Java loop touches an NDArray.
 */
public final class ImageSplicer {
    private ImageSplicer() {}

    /**
     * Flat positions (b·T + t) of the placeholder tokens in {@code ids (B×T, row-major)}, checked against the number
     * of images: exactly {@code images × k} placeholders, in runs whose lengths are multiples of k.
     */
    public static long[] slots(long[] ids, int rows, int cols, int placeholderId, int images, int k) {
        return slots(ids, rows, cols, placeholderId, images, k, Integer.MAX_VALUE);
    }

    /** As {@link #slots(long[], int, int, int, int, int)}, refusing rows with more than {@code maxPerRow} images. */
    public static long[] slots(long[] ids, int rows, int cols, int placeholderId, int images, int k, int maxPerRow) {
        int count = 0;
        for (long id : ids) {
            if (id == placeholderId) {
                count++;
            }
        }
        if (count != images * k) {
            throw new Mm1Exception("image slots: the sequence has " + count + " <image> placeholder positions but "
                    + images + " image(s) × " + k + " tokens need " + images * k);
        }
        long[] out = new long[count];
        int j = 0;
        for (int b = 0; b < rows; b++) {
            int run = 0;
            int rowSlots = 0;
            for (int t = 0; t <= cols; t++) {
                boolean slot = t < cols && ids[b * cols + t] == placeholderId;
                if (slot) {
                    out[j++] = (long) b * cols + t;
                    run++;
                    if (++rowSlots > (long) maxPerRow * k) {
                        throw new Mm1Exception("image slots: row " + b + " holds more than " + maxPerRow
                                + " images (the model's maxImagesPerSequence)");
                    }
                } else if (run > 0) {
                    if (run % k != 0) {
                        throw new Mm1Exception("image slots: row " + b + " has a run of " + run + " <image> positions "
                                + "ending at " + (t - 1) + "; each image needs exactly " + k + " consecutive slots");
                    }
                    run = 0;
                }
            }
        }
        return out;
    }

    /**
     * Flat positions of the placeholders for pictures of different token counts (LLaVA-NeXT): picture i takes the
     * next {@code counts[i]} placeholders in reading order, which must be consecutive within one row.
     */
    public static long[] slots(long[] ids, int rows, int cols, int placeholderId, int[] counts) {
        long need = 0;
        for (int c : counts) {
            need += c;
        }
        int have = 0;
        for (long id : ids) {
            have += id == placeholderId ? 1 : 0;
        }
        if (have != need) {
            throw new Mm1Exception("image slots: the sequence has " + have + " <image> placeholder positions but the "
                    + counts.length + " image(s) need " + need);
        }
        long[] out = new long[have];
        int j = 0;
        int image = 0;
        int left = counts.length == 0 ? 0 : counts[0];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] != placeholderId) {
                continue;
            }
            while (left == 0) {
                left = counts[++image];
            }
            boolean first = left == counts[image];
            if (!first && (i % cols == 0 || ids[i - 1] != placeholderId)) {
                throw new Mm1Exception("image slots: image " + image + " needs " + counts[image]
                        + " consecutive <image> positions; its run breaks at row " + i / cols + ", position "
                        + i % cols);
            }
            out[j++] = i;
            left--;
        }
        return out;
    }

    /**
     * @param text   token embeddings (B, T, D)
     * @param images image embeddings (N, k, D) from the connector, in slot order
     * @param slots  flat positions from {@link #slots}, length N·k
     * @return (B, T, D) with image embeddings at the slots
     */
    public static NDArray splice(NDArray text, NDArray images, long[] slots) {
        Shape ts = text.getShape();
        long b = ts.get(0);
        long t = ts.get(1);
        long d = ts.get(2);
        long n = b * t;
        if (images == null || slots.length == 0) {
            return text;
        }
        Shape is = images.getShape();
        if (is.get(0) * is.get(1) != slots.length || is.get(2) != d) {
            throw new Mm1Exception("image slots: connector output " + is + " does not fill " + slots.length
                    + " slots of width " + d);
        }
        long[] index = new long[Math.toIntExact(n)];
        for (int i = 0; i < index.length; i++) {
            index[i] = i;
        }
        for (int j = 0; j < slots.length; j++) {
            index[Math.toIntExact(slots[j])] = n + j;
        }
        NDArray table = text.reshape(n, d).concat(images.reshape(slots.length, d), 0); // (B·T + N·k, D)
        NDArray idx = text.getManager().create(index, new Shape(b, t));
        return Ops.rows(table, idx); // (B, T, D)
    }
}
