package io.mm1j.ablate;

import io.mm1j.Mm1Exception;
import io.mm1j.ablate.Study.Claim;
import io.mm1j.ablate.Study.Lesson;
import io.mm1j.ablate.Study.Training;
import io.mm1j.ablate.Study.Variant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The studies {@code mm1 ablate} knows: MM1's ablations (MM1 §3, MM1_SPEC.md §1–2) mapped onto the synthetic world
 * and the ablation base config ({@code /ablate/base.json}: a 64 px, patch-8 ViT (width 64, 2 layers), a
 * C-Abstractor to 16 tokens and a 2-layer, width-128 Llama). The metrics the claims use:
 * <ul>
 *   <li>{@code avg}: caption CIDEr-D ×100 and VQA accuracy (%) averaged over 0, 4 and 8 shots (MM1's "averaged
 *       few-shot metrics" of its ablations);</li>
 *   <li>{@code 0-shot}: the two at 0 shots; {@code few-shot}: at 4 and 8 shots;</li>
 *   <li>{@code vqa}: VQA accuracy averaged over 0, 4 and 8 shots (the SFT studies' metric: their models are
 *       fine-tuned on the world's questions and asked through the chat template);</li>
 *   <li>{@code text}: text perplexity on held-out text documents (lower is better).</li>
 * </ul>
 */
public final class Studies {
    /** Equivalence margin of "hardly differ" claims, in score points (CIDEr-D ×100 and VQA %). */
    public static final double SAME_MARGIN = 5.0;

    private static final String ENCODER = "Encoder lesson: resolution matters most, then model size and "
            + "pre-training data; 224→336 px gave ≈3% on the averaged few-shot metrics, ViT-L→ViT-H under 1%, "
            + "adding synthetic-caption data (VeCap) ≈1%.";
    private static final String CONNECTOR = "Connector lesson: the number of image tokens and image resolution "
            + "matter most; the connector type matters little.";

    private static final String SFT_RES = "High resolution at SFT: the encoder's position embeddings interpolated, "
            + "an image split into 4 sub-images plus 1 overview (5 × 144 = 720 image tokens); higher resolution "
            + "carries over after SFT (MM1 Fig. 7b: the SFT score rises with input resolution and sub-images).";
    private static final String SFT_PT = "The pre-training choices carry over after SFT (MM1 Fig. 7c: the SFT score "
            + "rises with the amount of pre-training).";

    private Studies() {}

    /** Every study in the order {@code all} runs them. */
    public static List<Study> all() {
        List<Study> s = new ArrayList<>();
        s.add(new Study("resolution", "image resolution at a fixed patch size (8 px): 32 / 48 / 64 px",
                List.of(Variant.of("res-32px", "32 px (4×4 patches)", "model.vision.imageSize=32"),
                        Variant.of("res-48px", "48 px (6×6 patches)", "model.vision.imageSize=48"),
                        Variant.base("64 px (8×8 patches)")),
                List.of(new Lesson(ENCODER, "64 px beats 32 px on the averaged 0/4/8-shot score",
                        List.of(Claim.better("avg", "base", "res-32px"))))));
        s.add(new Study("image-tokens", "image tokens k per image (C-Abstractor): 4 / 16 / 64",
                List.of(Variant.of("tokens-4", "k = 4", "model.connector.imageTokens=4"),
                        Variant.base("k = 16"),
                        Variant.of("tokens-64", "k = 64", "model.connector.imageTokens=64")),
                List.of(new Lesson(CONNECTOR, "64 image tokens beat 4 on the averaged 0/4/8-shot score",
                        List.of(Claim.better("avg", "tokens-64", "tokens-4"))))));
        s.add(new Study("connector", "connector type at k = 16: average pooling / attention pooling / C-Abstractor",
                List.of(Variant.of("conn-avgpool", "average pooling", "model.connector.type=avgpool"),
                        Variant.of("conn-attnpool", "attention pooling", "model.connector.type=attnpool"),
                        Variant.base("C-Abstractor (Honeybee: SE + position embedding)")),
                List.of(new Lesson(CONNECTOR, "the three connectors' averaged scores lie within ±" + SAME_MARGIN
                        + " points of each other",
                        List.of(Claim.same("avg", "conn-avgpool", "conn-attnpool", "base"))))));
        s.add(new Study("encoder-size", "ViT size: width 32, 1 layer / width 64, 2 layers (base) / width 128, 4 layers",
                List.of(Variant.of("enc-small", "ViT 32×1", "model.vision.width=32", "model.vision.layers=1",
                                "model.vision.heads=2", "model.vision.mlpDim=128"),
                        Variant.base("ViT 64×2"),
                        Variant.of("enc-large", "ViT 128×4", "model.vision.width=128", "model.vision.layers=4",
                                "model.vision.heads=4", "model.vision.mlpDim=512")),
                List.of(new Lesson(ENCODER, "the largest ViT beats the smallest on the averaged score (MM1: a "
                        + "small gain, under 1%)", List.of(Claim.better("avg", "enc-large", "enc-small"))))));
        s.add(new Study("encoder-objective", "image encoder pre-training objective: contrastive (CLIP) / "
                + "reconstructive (AIM) / random and frozen, each then pre-trained into the MLLM for the same steps "
                + "(the pre-trained encoders train on with the model, MM1's recipe; base: random and trained with it)",
                List.of(Variant.encoder("enc-clip", "contrastive (CLIP) encoder", Training.ENCODER_CLIP),
                        Variant.encoder("enc-aim", "reconstructive (AIM) encoder", Training.ENCODER_AIM),
                        Variant.of("enc-random-frozen", "random encoder, frozen", "train.freeze=[\"vision\"]"),
                        Variant.base("random encoder, trained with the model (base)")),
                List.of(new Lesson("MM1 builds on a pre-trained image encoder (a ViT trained with a CLIP contrastive "
                                + "loss), not random weights.", "both pre-trained encoders beat a random frozen one "
                                + "on the averaged score",
                                List.of(Claim.better("avg", "enc-clip", "enc-random-frozen"),
                                        Claim.better("avg", "enc-aim", "enc-random-frozen"))),
                        new Lesson(ENCODER + " (The objective — MM1 compares contrastive CLIP with reconstructive AIM "
                                + "encoders — is not among the lesson's factors.)", "the CLIP and AIM encoders' "
                                + "averaged scores lie within ±" + SAME_MARGIN + " points of each other",
                                List.of(Claim.same("avg", "enc-clip", "enc-aim"))))));
        s.add(new Study("encoder-data", "image-text data the encoder learns from: 250 vs 1000 distinct training "
                + "pictures (the encoder here is trained with the model, not pre-trained: [C2])",
                List.of(Variant.of("images-250", "250 pictures", "data.synthetic_images=250"),
                        Variant.base("1000 pictures")),
                List.of(new Lesson(ENCODER, "more distinct pictures beat fewer at equal steps on the averaged score",
                        List.of(Claim.better("avg", "base", "images-250"))))));
        s.add(new Study("data-mix", "pre-training mix (interleaved / captions / text): captions only, interleaved "
                + "only, 45/45/10, without text, 45/45/10 with re-captioned (VeCap-like) captions",
                List.of(Variant.of("mix-captions", "captions only", "data.synthetic_mix=[0,1,0]"),
                        Variant.of("mix-interleaved", "interleaved only", "data.synthetic_mix=[1,0,0]"),
                        Variant.base("45/45/10 (MM1)"),
                        Variant.of("mix-no-text", "45/45/0 (no text)", "data.synthetic_mix=[0.5,0.5,0]"),
                        Variant.of("mix-recaptioned", "45/45/10 + synthetic captions",
                                "data.synthetic_captions=recaptioned")),
                List.of(new Lesson("Caption data drives zero-shot.", "captions only beats interleaved only at 0 shots",
                                List.of(Claim.better("0-shot", "mix-captions", "mix-interleaved"))),
                        new Lesson("Interleaved data drives few-shot and text-only performance.",
                                "interleaved only beats captions only at 4/8 shots and in text perplexity",
                                List.of(Claim.better("few-shot", "mix-interleaved", "mix-captions"),
                                        Claim.better("text", "mix-interleaved", "mix-captions"))),
                        new Lesson("Text-only data keeps few-shot and text-only performance.",
                                "45/45/10 beats 45/45/0 at 4/8 shots and in text perplexity",
                                List.of(Claim.better("few-shot", "base", "mix-no-text"),
                                        Claim.better("text", "base", "mix-no-text"))),
                        new Lesson("Synthetic captions help few-shot.",
                                "45/45/10 with re-captioned captions beats plain 45/45/10 at 4/8 shots",
                                List.of(Claim.better("few-shot", "mix-recaptioned", "base"))))));
        s.add(new Study("moe", "dense vs MoE (4 experts, top-2, every 2nd FFN): upcycled from the dense model half "
                + "way (equal steps), and from scratch with half-width experts (equal active parameters)",
                List.of(Variant.base("dense"),
                        new Variant("moe-upcycled", "MoE upcycled at half the steps", List.of(), Training.UPCYCLED),
                        Variant.of("moe-equal-active", "MoE, equal active params",
                                "model.moe={\"numExperts\":4,\"topK\":2,\"every\":2,\"expertIntermediate\":176,"
                                        + "\"balanceCoef\":0.01,\"zLossCoef\":0.001,\"capacityFactor\":0}")),
                List.of(new Lesson("MoE beats dense at equal active parameters (MM1's headline; 3B-MoE: 64 experts "
                        + "every 2nd layer, top-2).", "the MoE variants beat dense on the averaged score",
                        List.of(Claim.better("avg", "moe-equal-active", "base"),
                                Claim.better("avg", "moe-upcycled", "base"))))));
        s.add(new Study("sft-resolution", "SFT input resolution and sub-images (MM1 Fig. 7b), after the base "
                + "pre-training, on the synthetic world's conversations drawn at twice the encoder's resolution: the "
                + "encoder's resolution (k tokens) / one crop at 1.5× (position embeddings interpolated, k tokens) / "
                + "2×2 sub-images + overview (5k tokens)",
                List.of(Variant.sft("sft-lowres", "encoder resolution (1 image, k tokens)", 1, 0),
                        Variant.sft("sft-crop", "1.5× resolution, one crop (k tokens)", 1, 1.5,
                                "model.high_res.enabled=true", "model.high_res.rows=1",
                                "model.high_res.cols=1", "model.high_res.overview=false"),
                        Variant.sft("sft-subimages", "2×2 sub-images + overview (5k tokens)", 1, 0,
                                "model.high_res.enabled=true", "model.high_res.rows=2", "model.high_res.cols=2",
                                "model.high_res.overview=true")),
                List.of(new Lesson(SFT_RES, "SFT on 2×2 sub-images + overview, and on one 1.5× crop, each beat SFT "
                        + "at the encoder's resolution on VQA (0/4/8 shots, chat template)",
                        List.of(Claim.better("vqa", "sft-subimages", "sft-lowres"),
                                Claim.better("vqa", "sft-crop", "sft-lowres"))))));
        s.add(new Study("sft-vs-pretraining", "SFT result vs the amount of pre-training (MM1 Fig. 7c): the same SFT "
                + "after none, half or all of the pre-training steps (half: a run of the base config with its own "
                + "schedule over half the steps)",
                List.of(Variant.sft("sft-pt0", "no pre-training (SFT from random weights)", 0, 0),
                        Variant.sft("sft-pt-half", "½ of the pre-training steps", 0.5, 0),
                        Variant.sft("sft-lowres", "all pre-training steps (the base run)", 1, 0)),
                List.of(new Lesson(SFT_PT, "after equal SFT, all pre-training beats half and half beats none on "
                        + "VQA (0/4/8 shots, chat template)",
                        List.of(Claim.better("vqa", "sft-lowres", "sft-pt-half"),
                                Claim.better("vqa", "sft-pt-half", "sft-pt0"))))));
        s.add(new Study("lr", "peak learning rate vs model size (delegates to lr-sweep: text-only Llamas 2×32, "
                + "2×64, held out 2×48)", List.of(), List.of(new Lesson("LR scaling law: η = exp(−0.4214·ln N − "
                + "0.5535) from a grid search at four sizes.", "a log-linear law fitted at two sizes predicts the "
                + "held-out size's best LR within ×1.5", List.of()))));
        return s;
    }

    /** Every study name, for help and messages. */
    public static List<String> names() {
        return all().stream().map(Study::name).toList();
    }

    public static Study byName(String name) {
        return all().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow(() -> new Mm1Exception(
                "--study: unknown study '" + name + "'; known: " + String.join(", ", names()) + " or all"));
    }

    /** The studies {@code --study} names: {@code all} (every one) or a comma-separated list. */
    public static List<Study> select(String arg) {
        String a = arg.trim().toLowerCase(Locale.ROOT);
        if (a.equals("all")) {
            return all();
        }
        Set<String> seen = new LinkedHashSet<>();
        List<Study> out = new ArrayList<>();
        for (String part : a.split(",")) {
            String n = part.trim();
            if (n.isEmpty() || !seen.add(n)) {
                continue;
            }
            out.add(byName(n));
        }
        if (out.isEmpty()) {
            throw new Mm1Exception("--study: no study named; known: " + String.join(", ", names()) + " or all");
        }
        return out;
    }
}
