package io.mm1j;

/**
 * A user-facing error: bad input, a file that does not match its header, a config that cannot work.
 * The CLI prints {@link #getMessage()} as one line (no stack trace unless {@code --verbose}) and exits non-zero.
 * Messages name the file and the field/tensor so that the user can act on them.
 */
public class Mm1Exception extends RuntimeException {
    public Mm1Exception(String message) {
        super(message);
    }

    public Mm1Exception(String message, Throwable cause) {
        super(message, cause);
    }
}
