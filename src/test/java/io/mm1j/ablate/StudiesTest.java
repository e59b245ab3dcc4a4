package io.mm1j.ablate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.train.RunConfig;
import io.mm1j.train.RunModels;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The study catalogue, refused studies, budget sizing, and every variant resolving to a valid model. */
class StudiesTest {
    @Test
    void everyStudyIsSelectableAndUnknownOnesAreRefused() {
        List<String> all = Studies.select("all").stream().map(Study::name).toList();
        assertEquals(List.of("resolution", "image-tokens", "connector", "encoder-size", "encoder-objective",
                "encoder-data", "data-mix", "moe", "sft-resolution", "sft-vs-pretraining", "lr"), all);
        assertEquals(List.of("encoder-objective", "sft-resolution", "sft-vs-pretraining"), Studies.select(
                "encoder-objective,sft-resolution,sft-vs-pretraining").stream().map(Study::name).toList());
        Mm1Exception unknown = assertThrows(Mm1Exception.class, () -> Studies.select("resolutoin"));
        assertEquals("--study: unknown study 'resolutoin'; known: resolution, image-tokens, connector, "
                + "encoder-size, encoder-objective, encoder-data, data-mix, moe, sft-resolution, sft-vs-pretraining, "
                + "lr or all", unknown.getMessage());
        assertEquals(List.of("moe", "connector"), Studies.select("moe, connector,moe").stream().map(Study::name)
                .toList());
        // the SFT studies share the fully pre-trained low-resolution arm (one run for both)
        assertEquals(Studies.byName("sft-resolution").variant("sft-lowres").sft(),
                Studies.byName("sft-vs-pretraining").variant("sft-lowres").sft());
        assertTrue(Studies.byName("sft-vs-pretraining").fineTunes());
        assertFalse(Studies.byName("encoder-objective").fineTunes());
    }

    @Test
    void budgetSizingSharesWhatIsLeftByRelativeCost() {
        // 600 s − 60 s probe − 4 runs × 20 s = 460 s over 3 base-run equivalents at 0.5 s/step → 306 steps
        assertEquals(306, Ablation.sizeSteps(600, 60, 0.5, new double[] {20, 20, 20, 20}, new double[] {1, 1, 0.5, 0.5},
                20));
        // per-run fixed costs differ (cheap lr sub-runs): 600 − 60 − 50 = 490 s over 2.3 equivalents → 426 steps
        assertEquals(426, Ablation.sizeSteps(600, 60, 0.5, new double[] {20, 20, 5, 5}, new double[] {1, 1, 0.15,
                0.15}, 20));
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> Ablation.sizeSteps(120, 60, 0.5,
                new double[] {20, 20, 20, 20}, new double[] {1, 1, 0.5, 0.5}, 20));
        // needs 60 + 80 + 20 · 0.5 · 3 = 170 s → 3 minutes
        assertEquals("--budget-minutes 2.0 is too small for 4 runs: at 0.50 s per base step and 20 s per run for "
                + "start-up and evaluation, 20 steps per run need about 3 minutes; raise --budget-minutes, use fewer "
                + "--seeds or fewer studies", e.getMessage());
    }

    /**
     * The second stages' step costs the plan sizes with: SFT with 2×2 sub-images + overview runs the ViT five
     * times per picture and fits fewer pictures per row (5k + 64 tokens each instead of k + 64); the encoder stage
     * runs the ViT over every pair's picture plus CLIP's text tower (or AIM's head).
     */
    @Test
    void secondStageCostsCountSubImagesAndTheEncoderStage(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base.json");
        try (InputStream in = Ablation.class.getResourceAsStream("/ablate/base.json")) {
            Files.write(base, in.readAllBytes());
        }
        RunConfig low = RunConfig.resolve(base, Map.of(), List.of());
        RunConfig high = RunConfig.resolve(base, Map.of(), List.of("model.high_res.enabled=true",
                "model.high_res.rows=2", "model.high_res.cols=2", "model.high_res.overview=true"));
        Mm1Config m = RunModels.build(low, 1024, "m");
        double vis = ParamCount.vision(m.vision()) + ParamCount.connector(m.connector(), m.vision(), 128);
        // 8 rows of 256 tokens: 256 / (16 + 64) pictures per row at k = 16, 256 / (80 + 64) with sub-images
        double lowVit = 6 * vis * 64 * 8 * (256.0 / 80);
        double highVit = 6 * vis * 64 * 5 * 8 * (256.0 / 144);
        assertEquals(highVit - lowVit, Ablation.sftFlopsPerStep(high) - Ablation.sftFlopsPerStep(low),
                1e-9 * highVit);
        assertEquals(Ablation.flopsPerStep(low, 1, 0, Ablation.SFT_TEXT_TOKENS), Ablation.sftFlopsPerStep(low));

        String vision = "model.vision=" + low.node("model.vision");
        RunConfig clip = io.mm1j.train.EncoderPretrainer.config(null, Map.of(), List.of(vision,
                "train.batch_size=64"));
        RunConfig aim = io.mm1j.train.EncoderPretrainer.config(null, Map.of(), List.of(vision,
                "train.batch_size=64", "objective=aim"));
        double vit = 6.0 * ParamCount.vision(m.vision()) * 65 * 64; // 64 patches + CLS, 64 pictures
        double text = 6.0 * 2 * (4 * 128 * 128 + 2 * 128 * 512) * 32 * 64; // 2 layers × context 32 × 64 captions
        double head = 6.0 * (64 * 512 + 512 * 3 * 64) * 64 * 64; // 64 → 512 → 3·8·8 per patch
        assertEquals(vit + text, Ablation.encoderFlopsPerStep(clip, m.vision()), 1e-9 * (vit + text));
        assertEquals(vit + head, Ablation.encoderFlopsPerStep(aim, m.vision()), 1e-9 * (vit + head));
    }

    /** Every variant of every study is a valid run config and model on the built-in base. */
    @Test
    void everyVariantBuildsAndChangesOnlyItsChoice(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base.json");
        try (InputStream in = Ablation.class.getResourceAsStream("/ablate/base.json")) {
            Files.write(base, in.readAllBytes());
        }
        RunConfig b = RunConfig.resolve(base, Map.of(), List.of());
        Mm1Config baseModel = RunModels.build(b, 1024, "base");
        assertEquals(16, baseModel.connector().imageTokens());
        assertTrue(baseModel.connector().se() && baseModel.connector().posEmb());
        double baseFlops = Ablation.flopsPerStep(b);
        for (Study s : Studies.all()) {
            for (Study.Variant v : s.variants()) {
                List<String> sets = new ArrayList<>(v.sets());
                if (v.training() == Study.Training.UPCYCLED) {
                    sets.add(Ablation.moeSet());
                }
                RunConfig rc = RunConfig.resolve(base, Map.of(), sets);
                Mm1Config m = RunModels.build(rc, 1024, v.id());
                if (v.id().equals("base")) {
                    assertEquals(baseModel.llm(), m.llm(), s.name());
                    assertEquals(baseModel.vision(), m.vision(), s.name());
                    assertEquals(baseModel.connector(), m.connector(), s.name());
                }
                assertTrue(Ablation.flopsPerStep(rc) > 0);
                assertEquals(Ablation.tokensPerStep(b), Ablation.tokensPerStep(rc), "equal tokens: " + v.id());
                assertEquals(b.integer("train.steps"), rc.integer("train.steps"), "equal steps: " + v.id());
            }
        }
        // specific choices
        assertEquals(32, RunModels.build(RunConfig.resolve(base, Map.of(), Studies.byName("resolution")
                .variant("res-32px").sets()), 1024, "r").vision().imageSize());
        Mm1Config equalActive = RunModels.build(RunConfig.resolve(base, Map.of(), Studies.byName("moe")
                .variant("moe-equal-active").sets()), 1024, "m");
        long denseActive = ParamCount.llm(baseModel.llm()).active();
        long moeActive = ParamCount.llm(equalActive.llm()).active();
        // top-2 of half-width experts: the dense FFN's active parameters plus the router (128 × 4 in one layer)
        assertEquals(denseActive + 128 * 4, moeActive);
        assertTrue(ParamCount.llm(equalActive.llm()).total() > ParamCount.llm(baseModel.llm()).total());
        // a 64-token connector costs more per step than a 4-token one only through the LLM's images: tokens stay
        assertFalse(Ablation.flopsPerStep(RunConfig.resolve(base, Map.of(), Studies.byName("resolution")
                .variant("res-32px").sets())) >= baseFlops);
    }
}
