package io.mm1j.mllm;

import io.mm1j.Mm1Exception;
import io.mm1j.data.ImageRef;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleEncoder;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.RgbImage;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * SFT conversations laid out by the model's {@link ChatTemplate} (MM1 §3.4: "loss only on assistant turns"), the
 * same rendering {@link PromptBuilder#fromChat} uses at generation time, so a fine-tuned model sees at inference
 * exactly the layout it was trained on.
 *
 * <p>How the assistant tokens are found, for any template that renders conversations prefix by prefix (every HF
 * template we know of does): for assistant message i, {@code render(m[0..i), addGenerationPrompt=true)} ends where
 * the assistant's content starts (after the role header the template writes for a reply), and
 * {@code render(m[0..i], false)} ends after the assistant's end-of-turn marker. The characters between the two are
 * the targets: the reply and its end marker (so the model learns to stop), never the header, the user's or the
 * system's text. A template whose renderings are not prefixes of each other is refused with its file named.
 *
 * <p>The rendered text is then tokenised span by span (spans end at target boundaries and at each
 * {@code <image>}, which becomes the image's piece). The template's BOS text becomes the BOS id; markers such as
 * {@code <|user|>} are the tokenizer's special tokens. No EOS is appended: the template's end-of-turn marker is the
 * stop a chat model learns and {@link ChatTemplate#stopStrings} stops on.
 */
public final class ChatTemplateEncoder implements SampleEncoder.ConversationEncoder {
    /** Stands in for pictures while rendering: only the number and place of image parts matter to a template. */
    private static final RgbImage PLACEHOLDER = new RgbImage(1, 1, new byte[3]);

    private final ChatTemplate template;
    private final Tokenizer tok;

    public ChatTemplateEncoder(ChatTemplate template, Tokenizer tok) {
        this.template = template;
        this.tok = tok;
    }

    public ChatTemplate template() {
        return template;
    }

    @Override
    public List<SampleEncoder.Piece> encode(Sample.Conversation c, Function<ImageRef, SampleEncoder.Piece> image) {
        List<ChatMessage> msgs = messages(c);
        String full = template.render(msgs, false);
        List<int[]> targets = new ArrayList<>(); // [from, to) character spans of assistant replies
        for (int i = 0; i < msgs.size(); i++) {
            if (!msgs.get(i).role().equals("assistant")) {
                continue;
            }
            String before = template.render(msgs.subList(0, i), true);
            String upto = template.render(msgs.subList(0, i + 1), false);
            if (!upto.startsWith(before) || !full.startsWith(upto)) {
                throw new Mm1Exception(template.origin() + ": the chat template does not render a conversation prefix "
                        + "by prefix (turn " + i + " of '" + c.id() + "'), so the assistant's tokens cannot be located");
            }
            targets.add(new int[] {before.length(), upto.length()});
        }
        List<SampleEncoder.Piece> out = new ArrayList<>();
        int pos = 0;
        String bos = template.bosToken();
        if (!bos.isEmpty() && full.startsWith(bos)) {
            int bosId = tok.specialId(bos); // the tokenizer's own BOS (mm1j's reserved id 1 for mm1j tokenizers)
            out.add(new SampleEncoder.Piece(new long[] {bosId >= 0 ? bosId : SpecialTokens.BOS_ID}, null, false));
            pos = bos.length();
        }
        int[] imageIndex = {0};
        for (int[] t : targets) {
            text(full.substring(pos, Math.max(pos, t[0])), false, c, image, imageIndex, out);
            text(full.substring(Math.max(pos, t[0]), t[1]), true, c, image, imageIndex, out);
            pos = t[1];
        }
        text(full.substring(pos), false, c, image, imageIndex, out);
        if (imageIndex[0] != c.images().size()) {
            throw new Mm1Exception(template.origin() + ": the chat template rendered " + imageIndex[0] + " of the "
                    + c.images().size() + " images of '" + c.id() + "'");
        }
        return out;
    }

    /** Text with {@code <image>} slots: text pieces and, at each slot, the next image's piece. */
    private void text(String s, boolean loss, Sample.Conversation c, Function<ImageRef, SampleEncoder.Piece> image,
                      int[] imageIndex, List<SampleEncoder.Piece> out) {
        String[] parts = s.split(java.util.regex.Pattern.quote(ChatTemplate.IMAGE_PLACEHOLDER), -1);
        for (int i = 0; i < parts.length; i++) {
            if (i > 0) {
                if (imageIndex[0] >= c.images().size()) {
                    throw new Mm1Exception(template.origin() + ": the chat template rendered more images than the "
                            + c.images().size() + " of '" + c.id() + "'");
                }
                out.add(image.apply(c.images().get(imageIndex[0]++)));
            }
            if (!parts[i].isEmpty()) {
                out.add(new SampleEncoder.Piece(tok.encode(parts[i]), null, loss));
            }
        }
    }

    /** The turns as chat messages, each {@code <image>} tag an image part at its place. */
    static List<ChatMessage> messages(Sample.Conversation c) {
        List<ChatMessage> out = new ArrayList<>();
        for (Sample.Turn t : c.turns()) {
            List<ChatMessage.Part> parts = new ArrayList<>();
            String[] pieces = t.text().split(java.util.regex.Pattern.quote(Sample.Conversation.IMAGE_TAG), -1);
            for (int i = 0; i < pieces.length; i++) {
                if (i > 0) {
                    parts.add(new ChatMessage.ImagePart(PLACEHOLDER));
                }
                if (!pieces[i].isEmpty()) {
                    parts.add(new ChatMessage.TextPart(pieces[i]));
                }
            }
            out.add(new ChatMessage(t.role(), parts));
        }
        return out;
    }
}
