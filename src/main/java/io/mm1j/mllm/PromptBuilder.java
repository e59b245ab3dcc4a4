package io.mm1j.mllm;

import io.mm1j.Mm1Exception;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.RgbImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds {@link Prompt}s for a model: the one place where text with {@code <image>} markers, or a chat rendered by
 * its {@link ChatTemplate}, becomes ids with expanded image slots.
 *
 * <p>Layout: the model's BOS, then the text with each {@code <image>} replaced by k placeholder ids (k = the
 * connector's image tokens). The text between markers is tokenised piece by piece and the slots are inserted as ids,
 * never by tokenising the string "&lt;image&gt;", so the layout does not depend on whether a tokenizer has
 * {@code <image>} as an added token. Images are preprocessed by the model's own preprocessing when the
 * {@link Generator} encodes them. Thread-safe (no mutable state).
 */
public final class PromptBuilder {
    private final Mm1Model model;
    private final Tokenizer tok;
    private final int imageTokenId;

    public PromptBuilder(Mm1Model model, Tokenizer tok) {
        this.model = model;
        this.tok = tok;
        this.imageTokenId = model.imageTokenId(tok); // LLaVA: image_token_index, checked against the tokenizer
    }

    /** The placeholder id image runs consist of. */
    public int imageTokenId() {
        return imageTokenId;
    }

    /** BOS + {@code text} where each {@code <image>} marks one slot, filled by {@code images} in order. */
    public Prompt fromText(String text, List<RgbImage> images) {
        return fromText(text, images, true);
    }

    /**
     * {@code text} where each {@code <image>} marks one slot, filled by {@code images} in order.
     *
     * @param addBos start with the model's BOS id (when it has one)
     * @throws Mm1Exception when the number of slots and images differ, or a text-only model gets images
     */
    public Prompt fromText(String text, List<RgbImage> images, boolean addBos) {
        if (!images.isEmpty() && !model.isMultimodal()) {
            throw new Mm1Exception("model '" + model.config().name() + "' is text-only (no image encoder); it cannot "
                    + "take images");
        }
        String[] pieces = pieces(text);
        int slots = pieces.length - 1;
        if (slots != images.size()) {
            throw new Mm1Exception("prompt has " + slots + " " + ChatTemplate.IMAGE_PLACEHOLDER + " slot(s) but "
                    + images.size() + " image(s) were given");
        }
        int[] counts = counts(images);
        if (model.usesTokenizerSpecials()) { // a foreign folder: tokenised whole, as its HF processor does
            return new Prompt(model.promptIds(tok, text, counts, addBos), images, counts, imageTokenId);
        }
        List<long[]> encoded = new ArrayList<>();
        int length = addBos && bosId() >= 0 ? 1 : 0;
        for (String p : pieces) {
            long[] ids = p.isEmpty() ? new long[0] : tok.encode(p);
            encoded.add(ids);
            length += ids.length;
        }
        length += Arrays.stream(counts).sum();
        long[] ids = new long[length];
        int j = 0;
        if (addBos && bosId() >= 0) {
            ids[j++] = bosId();
        }
        for (int i = 0; i < encoded.size(); i++) {
            if (i > 0) {
                j = ImageSlots.fill(ids, j, counts[i - 1], imageTokenId);
            }
            System.arraycopy(encoded.get(i), 0, ids, j, encoded.get(i).length);
            j += encoded.get(i).length;
        }
        return new Prompt(ids, images, counts, imageTokenId);
    }

    /** The text between image slots; to a text-only model '<image>' is text like any other (e.g. about HTML). */
    private String[] pieces(String text) {
        return model.isMultimodal() ? text.split(java.util.regex.Pattern.quote(ChatTemplate.IMAGE_PLACEHOLDER), -1)
                : new String[] {text};
    }

    /**
     * A lower bound on the length of {@link #fromText(String, List, boolean) fromText(text, images, addBos)} from
     * the text's length, without tokenising ({@link Tokenizer#minTokens}; image positions not counted): a prompt far
     * beyond the context is refused before megabytes are tokenised.
     */
    public int minLength(String text, boolean addBos) {
        if (model.usesTokenizerSpecials()) {
            return tok.minTokens(text);
        }
        long n = addBos && bosId() >= 0 ? 1 : 0;
        for (String p : pieces(text)) {
            n += tok.minTokens(p);
        }
        return (int) Math.min(n, Integer.MAX_VALUE);
    }

    /** A lower bound on the length of {@link #fromChat} (see {@link #minLength}); the template is rendered. */
    public int minChatLength(ChatTemplate template, List<ChatMessage> messages, boolean addGenerationPrompt) {
        return minLength(render(template, messages, addGenerationPrompt), true);
    }

    /** Image positions per picture: the model's image pipeline decides (MM1: k each; LLaVA-NeXT: by size). */
    private int[] counts(List<RgbImage> images) {
        int[] counts = new int[images.size()];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = model.imagePipeline().tokens(images.get(i).height(), images.get(i).width());
        }
        return counts;
    }

    /**
     * A conversation rendered by {@code template}; image parts fill the slots the template writes, in order. The
     * model's BOS id comes first whether or not the template writes {@code bos_token} (written, it is not
     * tokenised a second time).
     */
    public Prompt fromChat(ChatTemplate template, List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<RgbImage> images = new ArrayList<>();
        messages.forEach(m -> images.addAll(m.images()));
        return fromText(render(template, messages, addGenerationPrompt), images, true);
    }

    /** The conversation's text, without the template's BOS (the model's BOS id is put first instead). */
    private static String render(ChatTemplate template, List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (messages.isEmpty()) {
            throw new Mm1Exception("chat: no messages");
        }
        String text = template.render(messages, addGenerationPrompt);
        String bos = template.bosToken();
        return !bos.isEmpty() && text.startsWith(bos) ? text.substring(bos.length()) : text;
    }

    /**
     * A prompt from ids in which each image slot is one {@link #imageTokenId} (expanded here to k), e.g. few-shot
     * prompts assembled from pre-tokenised pieces.
     */
    public Prompt fromIds(long[] idsWithSlots, List<RgbImage> images) {
        int slots = ImageSlots.count(idsWithSlots, imageTokenId);
        if (slots != images.size()) {
            throw new Mm1Exception("prompt has " + slots + " image slot(s) but " + images.size()
                    + " image(s) were given");
        }
        if (slots > 0 && !model.isMultimodal()) {
            throw new Mm1Exception("model '" + model.config().name() + "' is text-only (no image encoder); it cannot "
                    + "take images");
        }
        int[] counts = counts(images);
        long[] ids = new long[idsWithSlots.length - slots + Arrays.stream(counts).sum()];
        int j = 0;
        int image = 0;
        for (long id : idsWithSlots) {
            j = ImageSlots.fill(ids, j, id == imageTokenId ? counts[image++] : 1, id);
        }
        return new Prompt(ids, images, counts, imageTokenId);
    }

    private int bosId() {
        return model.config().llm().bosTokenId();
    }

    public Mm1Model model() {
        return model;
    }

    public Tokenizer tokenizer() {
        return tok;
    }
}
