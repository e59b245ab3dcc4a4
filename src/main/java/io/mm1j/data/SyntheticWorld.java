package io.mm1j.data;

import io.mm1j.data.Scene.Colour;
import io.mm1j.data.Scene.Item;
import io.mm1j.data.Scene.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The embedded default data (MM1_SPEC §5): a seeded world of shape pictures with everything needed for an analogue
 * of each MM1 data lesson — captions (zero-shot captioning), interleaved documents that compare and count across
 * pictures (few-shot, multi-image), VQA with VQAv2-style 10 answers (including read-the-sign, the TextVQA analogue),
 * and text-only documents about the same world (text-only ability).
 *
 * <p>Every item is a pure function of (seed, kind, index): {@link #random} derives an independent generator per
 * item, so items can be produced in any order or in parallel and one item never shifts another.
 */
public final class SyntheticWorld {
    /** A question with its ten annotator answers (VQAv2 collects 10 per question). */
    public record VqaItem(String question, String questionType, String answerType, String answer,
                          List<String> answers) {}

    /** A document in reading order: sentences, and for each picture the sentence it precedes (mmc4's layout). */
    public record Document(List<String> sentences, List<Scene> scenes, List<Integer> matchedSentence) {}

    static final String[] NUMBER_WORDS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
            "nine", "ten", "eleven", "twelve"};

    private final long seed;
    private final boolean smallText;

    public SyntheticWorld(long seed) {
        this(seed, false);
    }

    /**
     * @param smallText draw signs in small letters ({@link #SMALL_GLYPH}) and ask about them as "the small sign" —
     *                  the high-resolution question type (an option: the default world is unchanged)
     */
    public SyntheticWorld(long seed, boolean smallText) {
        this.seed = seed;
        this.smallText = smallText;
    }

    /** Pixels per font pixel of small-text signs: 5×7-pixel letters. */
    public static final int SMALL_GLYPH = 1;

    public long seed() {
        return seed;
    }

    public boolean smallText() {
        return smallText;
    }

    /** The picture of a scene as this world draws it. */
    public java.awt.image.BufferedImage render(Scene s, int size) {
        return s.render(size, smallText ? SMALL_GLYPH : 0);
    }

    /** The generator of item {@code index} of {@code kind} ("scene", "doc", "text", …). */
    public SplittableRandom random(String kind, long index) {
        long h = seed * 0x9E3779B97F4A7C15L + kind.hashCode() * 0xBF58476D1CE4E5B9L + index * 0x94D049BB133111EBL;
        return new SplittableRandom(h ^ (h >>> 31));
    }

    public Scene scene(long index) {
        return Scene.random(random("scene", index));
    }

    static String number(long n) {
        return n < NUMBER_WORDS.length ? NUMBER_WORDS[(int) n] : Long.toString(n);
    }

    /** "two red circles, a blue square and a green triangle" (groups of equal colour and shape). */
    static String listing(Scene s) {
        Map<String, Integer> groups = new LinkedHashMap<>();
        for (Item it : s.items()) {
            groups.merge(it.colour().word() + " " + it.shape().word(), 1, Integer::sum);
        }
        List<String> parts = new ArrayList<>();
        groups.forEach((k, n) -> parts.add(n == 1 ? article(k) + " " + k : number(n) + " " + k + "s"));
        return join(parts);
    }

    static String article(String word) {
        return "aeiou".indexOf(word.charAt(0)) >= 0 ? "an" : "a";
    }

    static String join(List<String> parts) {
        if (parts.size() == 1) {
            return parts.get(0);
        }
        return String.join(", ", parts.subList(0, parts.size() - 1)) + " and " + parts.get(parts.size() - 1);
    }

    private static String signPhrase(Scene s) {
        return s.word() == null ? "" : " and a sign that says \"" + s.word().toLowerCase() + "\"";
    }

    /** Five reference captions from different templates (COCO gives five per image). */
    public List<String> captions(Scene s, SplittableRandom rnd) {
        int n = s.items().size();
        Item first = s.items().get(rnd.nextInt(n));
        List<String> all = new ArrayList<>(List.of(
                listing(s) + signPhrase(s) + ".",
                "a picture of " + number(n) + (n == 1 ? " shape" : " shapes") + " on a " + s.backgroundName()
                        + " background" + signPhrase(s) + ".",
                "a " + first.describe() + " " + first.place() + (n > 1 ? " and " + number(n - 1) + " other "
                        + (n == 2 ? "shape" : "shapes") : "") + ".",
                "there " + (n == 1 ? "is " : "are ") + listing(s) + " in this image.",
                s.word() != null ? "a sign with the " + (Character.isDigit(s.word().charAt(0)) ? "number " : "word ")
                        + s.word().toLowerCase() + " below " + listing(s) + "."
                        : "simple shapes: " + listing(s) + " on " + s.backgroundName() + "."));
        // Shuffled so that the first caption (the one a WebDataset shard keeps) varies in style.
        for (int i = all.size() - 1; i > 0; i--) {
            all.set(i, all.set(rnd.nextInt(i + 1), all.get(i)));
        }
        return List.copyOf(all);
    }

    /**
     * MM1's VeCap analogue (synthetic "re-captioned" data, MM1 §2): one dense, templated caption that names every
     * shape with its size, colour and place, the background, the count and the sign — the visual detail web
     * alt-text lacks. E.g. "a cream picture of three shapes: a large red circle on the left, a small blue square in
     * the middle and a small green triangle on the right, with a sign that says "cat". in all, three shapes."
     */
    public static String recaption(Scene s) {
        int n = s.items().size();
        List<String> parts = new ArrayList<>();
        for (Item it : s.items()) {
            parts.add(article(it.describe()) + " " + it.describe() + " " + it.place());
        }
        return "a " + s.backgroundName() + " picture of " + number(n) + (n == 1 ? " shape: " : " shapes: ")
                + join(parts) + (s.word() == null ? "" : ", with a sign that says \"" + s.word().toLowerCase()
                + "\"") + ". in all, " + listing(s) + ".";
    }

    /** Up to seven questions about the scene (count, colour, shape, position, yes/no, read-the-sign). */
    public List<VqaItem> questions(Scene s, SplittableRandom rnd) {
        List<VqaItem> q = new ArrayList<>();
        // counts are answered in digits, as VQAv2's annotators did and as its evaluation maps number words
        q.add(vqa(rnd, "how many shapes are there?", "how many", "number", Long.toString(s.items().size())));
        Shape ks = Shape.values()[rnd.nextInt(Shape.values().length)];
        q.add(vqa(rnd, "how many " + ks.plural() + " are there?", "how many", "number", Long.toString(s.count(ks))));
        for (Item it : s.items()) {
            if (s.count(it.shape()) == 1) {
                q.add(vqa(rnd, "what color is the " + it.shape().word() + "?", "what color is the", "other",
                        it.colour().word()));
                break;
            }
        }
        for (Item it : s.items()) {
            if (s.count(it.colour()) == 1) {
                q.add(vqa(rnd, "what shape is the " + it.colour().word() + " object?", "what", "other",
                        it.shape().word()));
                break;
            }
        }
        for (Item it : s.items()) {
            if (s.items().stream().filter(o -> o.colour() == it.colour() && o.shape() == it.shape()).count() == 1) {
                q.add(vqa(rnd, "where is the " + it.colour().word() + " " + it.shape().word() + "?", "where is the",
                        "other", it.column()));
                break;
            }
        }
        Colour c = Colour.values()[rnd.nextInt(Colour.values().length)];
        Shape sh = Shape.values()[rnd.nextInt(Shape.values().length)];
        if (rnd.nextBoolean()) { // half the yes/no questions ask about something present
            Item it = s.items().get(rnd.nextInt(s.items().size()));
            c = it.colour();
            sh = it.shape();
        }
        q.add(vqa(rnd, "is there " + article(c.word()) + " " + c.word() + " " + sh.word() + "?", "is there a", "yes/no",
                s.has(c, sh) ? "yes" : "no"));
        if (s.word() != null) {
            boolean digits = Character.isDigit(s.word().charAt(0));
            String sign = smallText ? "small sign" : "sign";
            q.add(vqa(rnd, digits ? "what number is on the " + sign + "?" : "what does the " + sign + " say?",
                    digits ? "what number is" : "what does the", digits ? "number" : "other", s.word().toLowerCase()));
        }
        return q;
    }

    /** Ten answers: each annotator is right with probability 0.9, otherwise gives a plausible wrong answer. */
    private static VqaItem vqa(SplittableRandom rnd, String question, String qType, String aType, String answer) {
        List<String> answers = new ArrayList<>(10);
        for (int i = 0; i < 10; i++) {
            answers.add(rnd.nextInt(10) < 9 ? answer : distractor(rnd, qType, aType, answer));
        }
        return new VqaItem(question, qType, aType, answer, List.copyOf(answers));
    }

    private static String distractor(SplittableRandom rnd, String qType, String aType, String answer) {
        if (aType.equals("yes/no")) {
            return answer.equals("yes") ? "no" : "yes";
        }
        if (qType.equals("how many")) { // an annotator off by one
            long n = Long.parseLong(answer);
            return Long.toString(n == 0 ? 1 : n + (rnd.nextBoolean() ? 1 : -1));
        }
        if (aType.equals("number")) { // a sign's number misread
            return answer + "0";
        }
        String[] pool = {"red", "green", "blue", "circle", "square", "left", "right", "middle", "nothing"};
        String d = pool[rnd.nextInt(pool.length)];
        return d.equals(answer) ? "not sure" : d;
    }

    /** An interleaved document of 2–4 pictures whose text compares and counts across them. */
    public Document document(long index) {
        SplittableRandom rnd = random("doc", index);
        int n = rnd.nextInt(2, 5);
        List<Scene> scenes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            scenes.add(Scene.random(rnd));
        }
        List<String> text = new ArrayList<>();
        List<Integer> matched = new ArrayList<>();
        text.add(rnd.nextBoolean() ? "Here are " + number(n) + " pictures of shapes."
                : "Let us compare " + number(n) + " pictures.");
        for (int i = 0; i < n; i++) {
            Scene s = scenes.get(i);
            matched.add(text.size()); // the picture comes right before the sentence that describes it
            StringBuilder sb = new StringBuilder("Picture " + number(i + 1) + " shows " + listing(s) + signPhrase(s)
                    + ".");
            if (i > 0) {
                int prev = scenes.get(i - 1).items().size();
                int cur = s.items().size();
                sb.append(cur == prev ? " It has as many shapes as picture " + number(i) + "."
                        : " It has " + (cur > prev ? "more" : "fewer") + " shapes than picture " + number(i) + ".");
                Item same = s.items().stream().filter(it -> scenes.get(0).has(it.colour(), it.shape())).findFirst()
                        .orElse(null);
                if (same != null && i > 0) {
                    sb.append(" Like picture one, it has ").append(article(same.colour().word())).append(' ')
                            .append(same.colour().word()).append(' ')
                            .append(same.shape().word()).append('.');
                }
            }
            text.add(sb.toString());
        }
        long total = scenes.stream().mapToLong(sc -> sc.items().size()).sum();
        Shape ks = Shape.values()[rnd.nextInt(Shape.values().length)];
        long kind = scenes.stream().mapToLong(sc -> sc.count(ks)).sum();
        int most = 0;
        for (int i = 1; i < n; i++) {
            most = scenes.get(i).items().size() > scenes.get(most).items().size() ? i : most;
        }
        text.add("Together the pictures show " + number(total) + " shapes, and " + number(kind) + " of them "
                + (kind == 1 ? "is a " + ks.word() : "are " + ks.plural()) + ". Picture " + number(most + 1)
                + " has the most shapes.");
        return new Document(List.copyOf(text), List.copyOf(scenes), List.copyOf(matched));
    }

    /** A text-only document: facts about shapes, counting stories and imagined pictures. */
    public String textDocument(long index) {
        SplittableRandom rnd = random("text", index);
        List<String> out = new ArrayList<>();
        String[] facts = {"A triangle has three corners.", "A square has four equal sides.",
                "A circle is round and has no corners.", "A diamond is a square turned on one corner.",
                "Red and yellow make orange.", "Blue and red make purple.", "Signs show words or numbers.",
                "The left side is opposite the right side."};
        String[] names = {"Anna", "Ben", "Mia", "Leo", "Sara", "Tom"};
        int sentences = rnd.nextInt(3, 7);
        for (int k = 0; k < sentences; k++) {
            switch (rnd.nextInt(3)) {
                case 0 -> out.add(facts[rnd.nextInt(facts.length)]);
                case 1 -> {
                    int a = rnd.nextInt(1, 6);
                    int b = rnd.nextInt(1, 6);
                    Colour ca = Colour.values()[rnd.nextInt(Colour.values().length)];
                    Shape sa = Shape.values()[rnd.nextInt(Shape.values().length)];
                    Shape sb = Shape.values()[rnd.nextInt(Shape.values().length)];
                    out.add(names[rnd.nextInt(names.length)] + " drew " + number(a) + " " + ca.word() + " "
                            + (a == 1 ? sa.word() : sa.plural()) + " and " + number(b) + " more "
                            + (b == 1 ? sb.word() : sb.plural()) + ", so there " + (a + b == 1 ? "is " : "are ")
                            + number(a + b) + " shapes in total.");
                }
                default -> {
                    Scene s = Scene.random(rnd);
                    out.add("Imagine a picture with " + listing(s) + signPhrase(s) + ". It has "
                            + number(s.items().size()) + (s.items().size() == 1 ? " shape." : " shapes."));
                }
            }
        }
        return String.join(" ", out);
    }
}
