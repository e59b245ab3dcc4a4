package io.mm1j.serve;

import io.mm1j.vision.RgbImage;
import java.util.List;

/**
 * One message of a chat request after validation: a role ({@code system}, {@code user}, {@code assistant}) and its
 * content in order, text and decoded images interleaved as the client sent them.
 */
public record ChatTurn(String role, List<Content> content) {
    public ChatTurn {
        content = List.copyOf(content);
    }

    /** A piece of message content. */
    public sealed interface Content permits Text, Image {}

    public record Text(String text) implements Content {}

    /** A decoded image (its header's pixel count was checked before decoding). */
    public record Image(RgbImage image) implements Content {}

    /** The number of images in this message. */
    public int imageCount() {
        return (int) content.stream().filter(c -> c instanceof Image).count();
    }
}
