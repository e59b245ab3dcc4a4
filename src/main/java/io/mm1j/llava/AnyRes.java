package io.mm1j.llava;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;

/**
 * LLaVA-NeXT's any-resolution geometry (HF {@code select_best_resolution}, {@code get_patch_output_size},
 * {@code unpad_image}), in the same double arithmetic as Python so that every size matches to the pixel.
 *
 * <pre>
 *   best pinpoint (H, W): the largest effective resolution min(int(w·s)·int(h·s), w·h), s = min(W/w, H/h),
 *                         ties to the least wasted H·W − effective
 *   fit:   the image resized into (H, W) keeping its aspect (the bound side exact, the other ceil'd), centered on
 *          a zero canvas; tiles of the tower's resolution in row-major order
 *   unpad: the (rows·g) × (cols·g) feature grid cut back to the rows/cols that show the picture
 * </pre>
 */
public final class AnyRes {
    private AnyRes() {}

    /** The best pinpoint for an h × w picture: {height, width}. */
    public static int[] bestResolution(int h, int w, List<int[]> pinpoints) {
        int[] best = null;
        long bestEffective = 0;
        long bestWasted = Long.MAX_VALUE;
        for (int[] p : pinpoints) {
            double scale = Math.min((double) p[1] / w, (double) p[0] / h);
            long effective = Math.min((long) (int) (w * scale) * (int) (h * scale), (long) w * h);
            long wasted = (long) p[0] * p[1] - effective;
            if (effective > bestEffective || effective == bestEffective && wasted < bestWasted) {
                best = p;
                bestEffective = effective;
                bestWasted = wasted;
            }
        }
        return best;
    }

    /** The picture's size inside the pinpoint, aspect kept: {height, width}. */
    public static int[] fitted(int h, int w, int[] target) {
        double scaleW = (double) target[1] / w;
        double scaleH = (double) target[0] / h;
        if (scaleW < scaleH) {
            return new int[] {Math.min((int) Math.ceil(h * scaleW), target[0]), target[1]};
        }
        return new int[] {target[0], Math.min((int) Math.ceil(w * scaleH), target[1])};
    }

    /**
     * The kept window of a {@code gridH × gridW} feature grid for an {@code h × w} picture:
     * {firstRow, rows, firstCol, cols}.
     */
    public static int[] unpadded(int h, int w, int gridH, int gridW) {
        if ((double) w / h > (double) gridW / gridH) {
            int newH = round7(h * ((double) gridW / w));
            int pad = (gridH - newH) / 2;
            return new int[] {pad, gridH - 2 * pad, 0, gridW};
        }
        int newW = round7(w * ((double) gridH / h));
        int pad = (gridW - newW) / 2;
        return new int[] {0, gridH, pad, gridW - 2 * pad};
    }

    /** Python's {@code int(round(x, 7))}: round half-even to 7 decimals of the exact binary value, then truncate. */
    private static int round7(double x) {
        return new BigDecimal(x).setScale(7, RoundingMode.HALF_EVEN).intValue();
    }

    /** Image tokens of an h × w picture: the base tile's g², then the unpadded grid with one newline per row. */
    public static int tokens(int h, int w, List<int[]> pinpoints, int tile, int grid) {
        int[] best = bestResolution(h, w, pinpoints);
        int[] keep = unpadded(h, w, best[0] / tile * grid, best[1] / tile * grid);
        return grid * grid + keep[1] * (keep[3] + 1);
    }
}
