package io.mm1j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import org.junit.jupiter.api.Test;

class HighResSplitterTest extends ManagedNdTest {
    private static final int[] COLOURS = {0xFF0000, 0x00FF00, 0x0000FF, 0xFFFFFF}; // TL, TR, BL, BR


    /** A w×h picture split into rows×cols flat-coloured blocks, block i coloured {@code colours[i]}. */
    private static RgbImage blocks(int w, int h, int rows, int cols, int[] colours) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int c = colours[(y * rows / h) * cols + x * cols / w];
                for (int ch = 0; ch < 3; ch++) {
                    rgb[(y * w + x) * 3 + ch] = (byte) (c >> (16 - 8 * ch));
                }
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /** Normalised value of 8-bit level {@code v} in channel {@code ch}. */
    private static double norm(int v, int ch) {
        return (v / 255.0 - ImagePreprocessor.CLIP_MEAN[ch]) / ImagePreprocessor.CLIP_STD[ch];
    }

    private static void assertCentreColour(NDArray image, int tile, int rgb, String what) {
        for (int ch = 0; ch < 3; ch++) {
            double v = image.getFloat(ch, tile / 2, tile / 2);
            assertEquals(norm((rgb >> (16 - 8 * ch)) & 0xff, ch), v, 1e-5, what + " channel " + ch);
        }
    }

    @Test
    void mm1SettingGivesFiveImagesOfTheTileSize() {
        assertEquals(5, HighResSplitter.mm1().imagesPerPicture());
        HighResSplitter s = new HighResSplitter(2, 2, 16, true);
        NDArray out = s.split(new ImagePreprocessor(m, 16), blocks(64, 48, 2, 2, COLOURS));
        assertEquals(new Shape(5, 3, 16, 16), out.getShape());
    }

    @Test
    void subImagesAreRowMajorAndTheOverviewComesLast() {
        int tile = 16;
        NDArray out = new HighResSplitter(2, 2, tile, true)
                .split(new ImagePreprocessor(m, tile), blocks(64, 64, 2, 2, COLOURS));
        for (int i = 0; i < 4; i++) {
            assertCentreColour(out.get(i), tile, COLOURS[i], "tile " + i);
        }
        NDArray overview = out.get(4);
        assertCentreColour(overview.get(":, 0:8, 0:8"), 8, COLOURS[0], "overview top-left quarter");
        assertCentreColour(overview.get(":, 8:, 8:"), 8, COLOURS[3], "overview bottom-right quarter");
    }

    @Test
    void nonSquareGridWithoutOverview() {
        int[] three = {0xFF0000, 0x00FF00, 0x0000FF};
        NDArray out = new HighResSplitter(1, 3, 8, false)
                .split(new ImagePreprocessor(m, 8), blocks(60, 20, 1, 3, three));
        assertEquals(new Shape(3, 3, 8, 8), out.getShape());
        for (int i = 0; i < 3; i++) {
            assertCentreColour(out.get(i), 8, three[i], "tile " + i);
        }
        assertTrue(new HighResSplitter(1, 3, 8, true).imagesPerPicture() == 4);
    }
}
