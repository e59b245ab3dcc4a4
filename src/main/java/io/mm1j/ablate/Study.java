package io.mm1j.ablate;

import java.util.List;

/**
 * One ablation: a single choice varied at equal training compute (the same steps, batch and sequence length), every
 * other setting from the base config, and the MM1 lessons it tests.
 *
 * @param name      the {@code --study} name
 * @param question  what is varied, in a line
 * @param variants  the configurations; {@code base} marks the unchanged base config (shared between studies)
 * @param lessons   MM1's lessons this study tests, each with the claims that decide it
 * @param missing   null when the study runs; otherwise why it cannot (a missing feature)
 */
public record Study(String name, String question, List<Variant> variants, List<Lesson> lessons, String missing) {
    /** How a variant is trained. */
    public enum Training {
        /** One pre-training run of the variant's config. */
        PLAIN,
        /** MM1's dense → MoE upcycling: the dense config for half the steps, upcycled, then the rest as MoE. */
        UPCYCLED
    }

    /**
     * @param id    run-folder name; variants with the same id in different studies are the same runs
     * @param label what the report's table calls it
     * @param sets  {@code --set key=value} overrides of the base config
     */
    public record Variant(String id, String label, List<String> sets, Training training) {
        public static Variant base(String label) {
            return new Variant("base", label, List.of(), Training.PLAIN);
        }

        public static Variant of(String id, String label, String... sets) {
            return new Variant(id, label, List.of(sets), Training.PLAIN);
        }
    }

    /**
     * One comparison. {@code better} beats {@code worse} on {@code metric} (kind BETTER), or the listed variants
     * differ by less than the margin (kind SAME; {@code worse} unused, {@code better} lists ids comma-separated).
     */
    public record Claim(Kind kind, String metric, String better, String worse) {
        public enum Kind { BETTER, SAME }

        public static Claim better(String metric, String better, String worse) {
            return new Claim(Kind.BETTER, metric, better, worse);
        }

        public static Claim same(String metric, String... ids) {
            return new Claim(Kind.SAME, metric, String.join(",", ids), null);
        }
    }

    /** An MM1 lesson (quoted from MM1_SPEC.md) and the claims that test its analogue here. */
    public record Lesson(String mm1, String analogue, List<Claim> claims) {}

    public boolean available() {
        return missing == null;
    }

    public Variant variant(String id) {
        return variants.stream().filter(v -> v.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(name + ": no variant " + id));
    }
}
