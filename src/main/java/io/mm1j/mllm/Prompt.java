package io.mm1j.mllm;

import io.mm1j.Mm1Exception;
import io.mm1j.vision.RgbImage;
import java.util.Arrays;
import java.util.List;

/**
 * A prompt ready to generate from: token ids in which each image slot is already expanded to its run of
 * {@code imageTokenId} positions, and the images that fill those runs, in slot order ({@link PromptBuilder} makes
 * these; {@link Generator} encodes the images and splices their embeddings in).
 *
 * @param ids            prompt ids (BOS first where the model uses one), (T)
 * @param images         the images in slot order
 * @param imageTokens    image positions per image (k, the connector's token count), one entry per image
 * @param imageTokenId   the placeholder id the runs consist of
 */
public record Prompt(long[] ids, List<RgbImage> images, int[] imageTokens, int imageTokenId) {
    public Prompt {
        images = List.copyOf(images);
        imageTokens = imageTokens.clone();
        if (imageTokens.length != images.size()) {
            throw new Mm1Exception("prompt: " + images.size() + " image(s) but " + imageTokens.length
                    + " image token counts");
        }
        if (ids.length == 0) {
            throw new Mm1Exception("prompt: no tokens (a prompt starts at least with BOS)");
        }
        int placeholders = 0;
        for (long id : ids) {
            placeholders += id == imageTokenId ? 1 : 0;
        }
        if (!images.isEmpty() && placeholders != Arrays.stream(imageTokens).sum()) {
            throw new Mm1Exception("prompt: " + placeholders + " image positions but the " + images.size()
                    + " image(s) need " + Arrays.stream(imageTokens).sum());
        }
    }

    /** A text-only prompt. */
    public static Prompt text(long[] ids) {
        return new Prompt(ids, List.of(), new int[0], -1);
    }

    /** Tokens in all (text and image positions). */
    public int length() {
        return ids.length;
    }

    /** Image positions in all. */
    public int imageTokenCount() {
        return Arrays.stream(imageTokens).sum();
    }

    /** Text positions (BOS and template markers included). */
    public int textTokenCount() {
        return ids.length - imageTokenCount();
    }

    public boolean hasImages() {
        return !images.isEmpty();
    }
}
