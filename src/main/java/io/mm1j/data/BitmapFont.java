package io.mm1j.data;

import java.awt.Color;
import java.awt.Graphics2D;
import java.util.HashMap;
import java.util.Map;

/**
 * A 5×7 pixel font for the synthetic world's signs (the OCR analogue of TextVQA/TextCaps). Drawn from this table
 * rather than a system font so that images are identical on every machine (installed fonts differ, and a headless
 * JVM may have none) and so that the smallest image sizes still render legible glyphs.
 */
final class BitmapFont {
    static final int WIDTH = 5;
    static final int HEIGHT = 7;
    /** Glyph rows, top to bottom, 5 bits each (bit 4 = leftmost pixel), in hex. */
    private static final String TABLE = """
            0 0E 11 13 15 19 11 0E|1 04 0C 04 04 04 04 0E|2 0E 11 01 02 04 08 1F|3 1F 02 04 02 01 11 0E
            4 02 06 0A 12 1F 02 02|5 1F 10 1E 01 01 11 0E|6 06 08 10 1E 11 11 0E|7 1F 01 02 04 08 08 08
            8 0E 11 11 0E 11 11 0E|9 0E 11 11 0F 01 02 0C|A 0E 11 11 11 1F 11 11|B 1E 11 11 1E 11 11 1E
            C 0E 11 10 10 10 11 0E|D 1C 12 11 11 11 12 1C|E 1F 10 10 1E 10 10 1F|F 1F 10 10 1E 10 10 10
            G 0E 11 10 17 11 11 0F|H 11 11 11 1F 11 11 11|I 0E 04 04 04 04 04 0E|J 07 02 02 02 02 12 0C
            K 11 12 14 18 14 12 11|L 10 10 10 10 10 10 1F|M 11 1B 15 15 11 11 11|N 11 11 19 15 13 11 11
            O 0E 11 11 11 11 11 0E|P 1E 11 11 1E 10 10 10|Q 0E 11 11 11 15 12 0D|R 1E 11 11 1E 14 12 11
            S 0F 10 10 0E 01 01 1E|T 1F 04 04 04 04 04 04|U 11 11 11 11 11 11 0E|V 11 11 11 11 11 0A 04
            W 11 11 11 15 15 15 0A|X 11 11 0A 04 0A 11 11|Y 11 11 11 0A 04 04 04|Z 1F 01 02 04 08 10 1F""";
    private static final Map<Character, int[]> GLYPHS = new HashMap<>();

    static {
        for (String g : TABLE.replace('\n', '|').split("\\|")) {
            String[] p = g.trim().split(" ");
            int[] rows = new int[HEIGHT];
            for (int r = 0; r < HEIGHT; r++) {
                rows[r] = Integer.parseInt(p[r + 1], 16);
            }
            GLYPHS.put(p[0].charAt(0), rows);
        }
    }

    private BitmapFont() {}

    /** Width in font pixels of {@code text} (one blank column between glyphs). */
    static int width(String text) {
        return text.isEmpty() ? 0 : text.length() * (WIDTH + 1) - 1;
    }

    /** Draws upper-case letters and digits with each font pixel a {@code scale}×{@code scale} square. */
    static void draw(Graphics2D g, String text, int x, int y, int scale, Color color) {
        g.setColor(color);
        for (int i = 0; i < text.length(); i++) {
            int[] rows = GLYPHS.get(Character.toUpperCase(text.charAt(i)));
            if (rows == null) {
                continue; // space or an unsupported character: leave the cell blank
            }
            for (int r = 0; r < HEIGHT; r++) {
                for (int c = 0; c < WIDTH; c++) {
                    if ((rows[r] >> (WIDTH - 1 - c) & 1) != 0) {
                        g.fillRect(x + (i * (WIDTH + 1) + c) * scale, y + r * scale, scale, scale);
                    }
                }
            }
        }
    }
}
