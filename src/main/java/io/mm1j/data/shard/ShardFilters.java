package io.mm1j.data.shard;

import io.mm1j.Mm1Exception;
import java.io.Serializable;

/**
 * What {@code mm1 data shard} keeps. Defaults follow the web-data filters MM1 inherits (MM1_SPEC.md §2 data; the
 * DataComp / LAION practice): images at least 64 px on the short side and at most 3:1, captions of 5–1,000
 * characters (an alt-text shorter than a word or two says nothing about the picture; a longer one is a page dump).
 *
 * @param minSide         the shorter image side must be at least this many pixels
 * @param maxAspect       the longer side over the shorter must be at most this
 * @param minCaptionChars a caption (after trimming) needs at least this many characters
 * @param maxCaptionChars and at most this many
 */
public record ShardFilters(int minSide, double maxAspect, int minCaptionChars, int maxCaptionChars)
        implements Serializable {
    public static final ShardFilters DEFAULT = new ShardFilters(64, 3.0, 5, 1000);

    /** Reasons a sample (or an image of a document) is left out, as the index JSON counts them. */
    public static final String CORRUPT_IMAGE = "corrupt image";
    public static final String TOO_LARGE = "image too large";
    public static final String TOO_SMALL = "image too small";
    public static final String ASPECT = "aspect ratio";
    public static final String CAPTION_LENGTH = "caption length";
    public static final String DUPLICATE = "duplicate image";
    public static final String EMPTY_DOCUMENT = "empty document";

    public ShardFilters {
        if (minSide < 1) {
            throw new Mm1Exception("--min-side must be >= 1, got " + minSide);
        }
        if (!(maxAspect >= 1)) {
            throw new Mm1Exception("--max-aspect must be >= 1, got " + maxAspect);
        }
        if (minCaptionChars < 0 || maxCaptionChars < minCaptionChars) {
            throw new Mm1Exception("--min-caption-chars and --max-caption-chars must satisfy 0 <= min <= max, got "
                    + minCaptionChars + " and " + maxCaptionChars);
        }
    }

    /** Why an image of {@code width × height} is refused, or null when it passes. */
    public String refuse(int width, int height) {
        int shorter = Math.min(width, height);
        if (shorter < minSide) {
            return TOO_SMALL;
        }
        return (double) Math.max(width, height) / shorter > maxAspect ? ASPECT : null;
    }

    /** Whether a caption (trimmed) has an acceptable length. */
    public boolean captionOk(String caption) {
        int n = caption.strip().length();
        return n >= minCaptionChars && n <= maxCaptionChars;
    }
}
