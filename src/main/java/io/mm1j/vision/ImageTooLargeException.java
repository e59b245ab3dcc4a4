package io.mm1j.vision;

import io.mm1j.Mm1Exception;

/**
 * An image whose header claims more pixels than the loader accepts, refused before decoding; a server answers it
 * with 413 rather than the 400 of a corrupt image.
 */
public final class ImageTooLargeException extends Mm1Exception {
    public ImageTooLargeException(String message) {
        super(message);
    }
}
