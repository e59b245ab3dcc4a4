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
 */
public record Study(String name, String question, List<Variant> variants, List<Lesson> lessons) {
    /** How a variant is trained. */
    public enum Training {
        /** One pre-training run of the variant's config. */
        PLAIN,
        /** MM1's dense → MoE upcycling: the dense config for half the steps, upcycled, then the rest as MoE. */
        UPCYCLED,
        /** Two stages: the image encoder pre-trained contrastively ({@code mm1 clip}), then the MLLM from it. */
        ENCODER_CLIP,
        /** Two stages: the image encoder pre-trained reconstructively (AIM, {@code mm1 clip --objective aim}). */
        ENCODER_AIM,
        /** Pre-training (all, part or none of the steps), then supervised fine-tuning ({@code mm1 sft}). */
        SFT;

        /** The {@code objective} of {@code mm1 clip} for the encoder stages, else null. */
        public String objective() {
            return this == ENCODER_CLIP ? "clip" : this == ENCODER_AIM ? "aim" : null;
        }
    }

    /**
     * The SFT stage of a {@link Training#SFT} variant.
     *
     * @param pretraining the share of the plan's pre-training steps the model gets first: 1 (the {@code base} run,
     *                    shared with the other studies), a fraction (a shorter run of the base config with its own
     *                    schedule), or 0 (SFT from random weights)
     * @param crop        sub-image size as a multiple of the encoder's resolution (sets {@code model.high_res.crop},
     *                    rounded to whole patches), or 0 for the encoder's own
     * @param sets        {@code --set} overrides of the SFT run (e.g. {@code model.high_res.*})
     */
    public record Sft(double pretraining, double crop, List<String> sets) {}

    /**
     * @param id    run-folder name; variants with the same id in different studies are the same runs
     * @param label what the report's table calls it
     * @param sets  {@code --set} overrides of the base config (for the pre-training stage)
     * @param sft   the SFT stage ({@link Training#SFT} only, else null)
     */
    public record Variant(String id, String label, List<String> sets, Training training, Sft sft) {
        public Variant(String id, String label, List<String> sets, Training training) {
            this(id, label, sets, training, null);
        }

        public static Variant base(String label) {
            return new Variant("base", label, List.of(), Training.PLAIN);
        }

        public static Variant of(String id, String label, String... sets) {
            return new Variant(id, label, List.of(sets), Training.PLAIN);
        }

        /** A two-stage variant: the encoder pre-trained with {@code training}'s objective, then the MLLM. */
        public static Variant encoder(String id, String label, Training training) {
            return new Variant(id, label, List.of(), training);
        }

        /** A variant fine-tuned after {@code pretraining} of the plan's pre-training steps. */
        public static Variant sft(String id, String label, double pretraining, double crop, String... sftSets) {
            return new Variant(id, label, List.of(), Training.SFT, new Sft(pretraining, crop, List.of(sftSets)));
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

    /** Whether the study's runs include SFT (evaluated through the chat template). */
    public boolean fineTunes() {
        return variants.stream().anyMatch(v -> v.training() == Training.SFT);
    }

    public Variant variant(String id) {
        return variants.stream().filter(v -> v.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(name + ": no variant " + id));
    }
}
