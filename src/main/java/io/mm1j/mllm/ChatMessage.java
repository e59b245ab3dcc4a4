package io.mm1j.mllm;

import io.mm1j.Mm1Exception;
import io.mm1j.vision.RgbImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One turn of a conversation: a role ("system", "user", "assistant", or whatever a model's chat template accepts) and
 * its content as ordered parts, text and images interleaved (OpenAI's and Hugging Face's content-parts shape).
 * A {@link ChatTemplate} renders a list of these; each image part becomes one image slot.
 */
public record ChatMessage(String role, List<Part> parts) {
    /** A piece of a message's content. */
    public sealed interface Part permits TextPart, ImagePart {}

    /** Text content. */
    public record TextPart(String text) implements Part {
        public TextPart {
            Objects.requireNonNull(text, "text");
        }
    }

    /** An image, decoded; its slot is filled with the image's k embeddings. */
    public record ImagePart(RgbImage image) implements Part {
        public ImagePart {
            Objects.requireNonNull(image, "image");
        }
    }

    public ChatMessage {
        if (role == null || role.isBlank()) {
            throw new Mm1Exception("chat message: role must be a non-empty string");
        }
        parts = List.copyOf(parts);
    }

    /** A text-only message. */
    public static ChatMessage text(String role, String text) {
        return new ChatMessage(role, List.of(new TextPart(text)));
    }

    /** A message with images first, then text (how a user attaches pictures to a question). */
    public static ChatMessage withImages(String role, List<RgbImage> images, String text) {
        List<Part> p = new ArrayList<>();
        images.forEach(i -> p.add(new ImagePart(i)));
        if (text != null && !text.isEmpty()) {
            p.add(new TextPart(text));
        }
        return new ChatMessage(role, p);
    }

    /** The text parts joined (images left out). */
    public String text() {
        StringBuilder sb = new StringBuilder();
        for (Part p : parts) {
            if (p instanceof TextPart t) {
                sb.append(t.text());
            }
        }
        return sb.toString();
    }

    /** The images in order. */
    public List<RgbImage> images() {
        List<RgbImage> out = new ArrayList<>();
        for (Part p : parts) {
            if (p instanceof ImagePart i) {
                out.add(i.image());
            }
        }
        return out;
    }

    /** True when some part is an image. */
    public boolean hasImages() {
        return parts.stream().anyMatch(p -> p instanceof ImagePart);
    }
}
