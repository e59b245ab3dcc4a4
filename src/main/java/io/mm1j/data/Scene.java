package io.mm1j.data;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One picture of the synthetic world: coloured shapes on a 3×3 grid (so "left/middle/right" and "top/bottom" have
 * exact answers), optionally a sign with a word or number in the bottom row. Everything a caption, a question or a
 * document says about the picture is derived from this record, so the labels are correct by construction.
 *
 * @param items      the shapes, at most one per grid cell
 * @param word       the sign's text (upper case letters/digits), or null when there is no sign
 * @param background index into {@link #BACKGROUNDS}
 */
public record Scene(List<Item> items, String word, int background) {
    public enum Colour {
        RED(215, 40, 40), GREEN(40, 160, 60), BLUE(40, 80, 215), YELLOW(230, 200, 30), PURPLE(135, 60, 175),
        ORANGE(240, 135, 30);

        final Color rgb;

        Colour(int r, int g, int b) {
            rgb = new Color(r, g, b);
        }

        public String word() {
            return name().toLowerCase();
        }
    }

    public enum Shape {
        CIRCLE, SQUARE, TRIANGLE, DIAMOND;

        public String word() {
            return name().toLowerCase();
        }

        public String plural() {
            return word() + "s";
        }
    }

    /** A shape in grid cell (row, col), row 0 at the top. */
    public record Item(Shape shape, Colour colour, boolean large, int row, int col) {
        public String column() {
            return col == 0 ? "left" : col == 1 ? "middle" : "right";
        }

        /** "on the left", "in the middle", "on the right". */
        public String place() {
            return col == 1 ? "in the middle" : "on the " + column();
        }

        public String describe() {
            return (large ? "large " : "small ") + colour.word() + " " + shape.word();
        }
    }

    static final String[] BACKGROUND_NAMES = {"white", "light gray", "cream"};
    static final Color[] BACKGROUNDS = {new Color(250, 250, 250), new Color(215, 215, 215), new Color(245, 235, 210)};
    static final String[] WORDS = {"STOP", "OPEN", "CAT", "DOG", "SUN", "MOON", "STAR", "TREE", "BOOK", "FISH",
            "BUS", "CAKE", "EXIT", "SALE", "KING", "BLUE", "RED", "ZOO"};

    /** A random scene: 1–5 shapes (1–4 with a sign), a sign in 40% of scenes, half of signs numbers. */
    public static Scene random(SplittableRandom rnd) {
        boolean sign = rnd.nextInt(10) < 4;
        String word = null;
        if (sign) {
            word = rnd.nextBoolean() ? WORDS[rnd.nextInt(WORDS.length)] : String.valueOf(rnd.nextInt(1, 100));
        }
        int cells = sign ? 6 : 9;
        int n = rnd.nextInt(1, sign ? 5 : 6);
        List<Integer> free = new ArrayList<>();
        for (int c = 0; c < cells; c++) {
            free.add(c);
        }
        List<Item> items = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int cell = free.remove(rnd.nextInt(free.size()));
            Shape s = Shape.values()[rnd.nextInt(Shape.values().length)];
            Colour c = Colour.values()[rnd.nextInt(Colour.values().length)];
            items.add(new Item(s, c, rnd.nextBoolean(), cell / 3, cell % 3));
        }
        items.sort((a, b) -> a.row != b.row ? Integer.compare(a.row, b.row) : Integer.compare(a.col, b.col));
        return new Scene(List.copyOf(items), word, rnd.nextInt(BACKGROUNDS.length));
    }

    public String backgroundName() {
        return BACKGROUND_NAMES[background];
    }

    public long count(Shape s) {
        return items.stream().filter(i -> i.shape == s).count();
    }

    public long count(Colour c) {
        return items.stream().filter(i -> i.colour == c).count();
    }

    public boolean has(Colour c, Shape s) {
        return items.stream().anyMatch(i -> i.colour == c && i.shape == s);
    }

    /** Draws the scene at {@code size}×{@code size} pixels (deterministic: no fonts, fixed hints). */
    public BufferedImage render(int size) {
        return render(size, 0);
    }

    /**
     * Draws the scene with the sign's text at a fixed {@code glyphScale} (pixels per font pixel; 0 = as large as the
     * sign allows): scale 1 gives 5×7-pixel letters, legible at full resolution but not after a 2× downscale — the
     * "small text" that MM1's high-resolution input is for.
     */
    public BufferedImage render(int size, int glyphScale) {
        BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(BACKGROUNDS[background]);
            g.fillRect(0, 0, size, size);
            double cell = size / 3.0;
            for (Item it : items) {
                double d = cell * (it.large ? 0.85 : 0.5);
                int x = (int) Math.round(it.col * cell + (cell - d) / 2);
                int y = (int) Math.round(it.row * cell + (cell - d) / 2);
                int w = (int) Math.round(d);
                g.setColor(it.colour.rgb);
                switch (it.shape) {
                    case CIRCLE -> g.fillOval(x, y, w, w);
                    case SQUARE -> g.fillRect(x, y, w, w);
                    case TRIANGLE -> g.fillPolygon(new Polygon(new int[] {x + w / 2, x + w, x},
                            new int[] {y, y + w, y + w}, 3));
                    case DIAMOND -> g.fillPolygon(new Polygon(new int[] {x + w / 2, x + w, x + w / 2, x},
                            new int[] {y, y + w / 2, y + w, y + w / 2}, 4));
                }
            }
            if (word != null) {
                drawSign(g, size, cell, glyphScale);
            }
        } finally {
            g.dispose();
        }
        return img;
    }

    private void drawSign(Graphics2D g, int size, double cell, int glyphScale) {
        int top = (int) Math.round(2 * cell + cell * 0.1);
        int h = (int) Math.round(cell * 0.8);
        int margin = Math.max(1, size / 32);
        g.setColor(Color.WHITE);
        g.fillRect(margin, top, size - 2 * margin, h);
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(1));
        g.drawRect(margin, top, size - 2 * margin - 1, h - 1);
        int textW = BitmapFont.width(word);
        int scale = glyphScale > 0 ? glyphScale
                : Math.max(1, Math.min((size - 4 * margin) / textW, (h - 2) / BitmapFont.HEIGHT));
        int x = (size - textW * scale) / 2;
        int y = top + (h - BitmapFont.HEIGHT * scale) / 2;
        BitmapFont.draw(g, word, x, y, scale, Color.BLACK);
    }
}
