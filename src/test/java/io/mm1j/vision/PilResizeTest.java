package io.mm1j.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/**
 * {@link PilResize} against Pillow 9.4 itself ({@code scripts/pil_resize_reference.py}): bicubic down- and
 * upsampling of integer test patterns, every level equal. The float32 path ({@link ImagePreprocessor}'s default) is
 * measured on the same cases: it may differ by one level at rounding ties, never by more.
 */
class PilResizeTest {
    static RgbImage pattern(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    int v = (x * 7 + y * 13 + c * 29 + ((x * y + c) % 17) * 11 + (x * x + 3 * y) % 23) % 256;
                    rgb[(y * w + x) * 3 + c] = (byte) v;
                }
            }
        }
        return new RgbImage(w, h, rgb);
    }

    @Test
    void fixedPointResizeEqualsPillowOnEveryLevel() throws Exception {
        JsonNode ref;
        try (InputStream in = getClass().getResourceAsStream("/vision/pil_resize.json")) {
            ref = new ObjectMapper().readTree(in);
        }
        int floatDiffers = 0;
        int total = 0;
        for (JsonNode c : ref.get("cases")) {
            int iw = c.get("in").get(0).asInt();
            int ih = c.get("in").get(1).asInt();
            int ow = c.get("out").get(0).asInt();
            int oh = c.get("out").get(1).asInt();
            byte[] want = Base64.getDecoder().decode(c.get("levels").asText()); // (oh, ow, 3)
            RgbImage img = pattern(iw, ih);
            float[] got = PilResize.levels(img, oh, ow, 0, 0, oh, ow); // (3, oh, ow)
            int mismatches = 0;
            for (int ch = 0; ch < 3; ch++) {
                for (int i = 0; i < oh * ow; i++) {
                    mismatches += got[ch * oh * ow + i] == (want[i * 3 + ch] & 0xff) ? 0 : 1;
                }
            }
            assertEquals(0, mismatches, iw + "x" + ih + " -> " + ow + "x" + oh + ": levels differing from Pillow");
            // a window of the resize equals the same window of the full resize (crops compute only what they keep)
            float[] window = PilResize.levels(img, oh, ow, oh / 3, ow / 4, oh / 2, ow / 2);
            for (int ch = 0; ch < 3; ch++) {
                for (int y = 0; y < oh / 2; y++) {
                    for (int x = 0; x < ow / 2; x++) {
                        assertEquals(got[(ch * oh + y + oh / 3) * ow + x + ow / 4],
                                window[(ch * (oh / 2) + y) * (ow / 2) + x]);
                    }
                }
            }
            float[] f32 = new ImagePreprocessor(io.mm1j.TestSupport.root(), 1).resizedLevels(img, oh,
                    ow);
            for (int i = 0; i < f32.length; i++) {
                float d = Math.abs(f32[i] - got[i]);
                assertEquals(0, d > 1 ? 1 : 0, "float32 path more than one level off");
                floatDiffers += d > 0 ? 1 : 0;
                total++;
            }
        }
        System.out.printf("float32 resize: %d of %d levels one off Pillow%n", floatDiffers, total);
    }
}
