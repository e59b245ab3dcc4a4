package io.mm1j.config;

import com.fasterxml.jackson.annotation.JsonIgnore;
import io.mm1j.Mm1Exception;

/**
 * MM1's high-resolution input (MM1_SPEC.md §3, "High resolution"): each picture is covered by a rows × cols grid of
 * sub-images at the encoder's resolution plus, with {@code overview}, the whole picture at that resolution; every
 * sub-image goes through encoder and connector, so a picture costs {@link #imagesPerPicture()} × k image tokens
 * (MM1: 2×2 + 1 = 5 × 144 = 720). The encoder's position embeddings are interpolated to the sub-image size once,
 * when the mode is switched on for a run ({@code model.high_res.crop}).
 *
 * @param rows     sub-image rows (MM1: 2)
 * @param cols     sub-image columns (MM1: 2)
 * @param overview whether the low-resolution overview is appended after the sub-images (MM1: yes)
 */
public record HighResConfig(int rows, int cols, boolean overview) {
    public HighResConfig {
        if (rows < 1 || cols < 1 || rows * cols > 16) {
            throw new Mm1Exception("high_res: rows and cols must be >= 1 with at most 16 sub-images, got " + rows + "x"
                    + cols);
        }
    }

    /** MM1's grid: 2×2 sub-images and an overview. */
    public static HighResConfig mm1() {
        return new HighResConfig(2, 2, true);
    }

    /** Encoder passes (and k-token groups) per picture. */
    @JsonIgnore
    public int imagesPerPicture() {
        return rows * cols + (overview ? 1 : 0);
    }
}
