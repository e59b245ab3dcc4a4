package io.mm1j.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import io.mm1j.TestSupport;
import io.mm1j.config.VisionConfig;
import org.junit.jupiter.api.Test;

/** The CLIP pair's temperature bound and initialisation. */
class EncoderModelTest {
    static final VisionConfig VISION = VisionConfig.builder().imageSize(16).patchSize(8).width(16).layers(2).heads(2)
            .mlpDim(32).build();
    static final EncoderModel.Config CLIP = new EncoderModel.Config(EncoderModel.Objective.CLIP, VISION,
            new TextTransformer.Config(300, 8, 16, 1, 2, 32, "gelu", 1e-5), 8, 16);

    @Test
    void logitScaleStartsAtOneOverPointZeroSevenAndIsClampedAtOneHundred() {
        try (NDManager m = TestSupport.root().newSubManager(); EncoderModel model = EncoderModel.init(CLIP, m)) {
            assertEquals(1 / 0.07, model.logitScale(), 1e-4);
            model.params().get(EncoderModel.LOGIT_SCALE).addi(3.0); // log scale 2.66 + 3 → scale ≈ 287
            model.clampLogitScale();
            assertEquals(100, model.logitScale(), 1e-4);
        }
    }

    @Test
    void clipInitialisationStandardDeviations() {
        // d = 16, L = 2: q/k/v and fc2 d^-½ (2L)^-½ = 0.125; out_proj d^-½ = 0.25; fc1 (2d)^-½ ≈ 0.177
        assertEquals(0.125, EncoderModel.clipStd(CLIP, "vision_model.encoder.layers.1.self_attn.q_proj.weight"), 1e-12);
        assertEquals(0.25, EncoderModel.clipStd(CLIP, "vision_model.encoder.layers.0.self_attn.out_proj.weight"),
                1e-12);
        assertEquals(Math.pow(32, -0.5), EncoderModel.clipStd(CLIP, "vision_model.encoder.layers.0.mlp.fc1.weight"),
                1e-12);
        // text tower: one block, so (2L)^-½ = 2^-½
        assertEquals(0.25 * Math.pow(2, -0.5),
                EncoderModel.clipStd(CLIP, "text_model.encoder.layers.0.mlp.fc2.weight"), 1e-12);
        assertEquals(0.25, EncoderModel.clipStd(CLIP, EncoderModel.VISUAL_PROJECTION), 1e-12);
        assertEquals(0.25, EncoderModel.clipStd(CLIP, "vision_model.embeddings.class_embedding"), 1e-12);
        assertEquals(0, EncoderModel.clipStd(CLIP, "vision_model.embeddings.patch_embedding.weight")); // flat 0.02
        assertEquals(0, EncoderModel.clipStd(CLIP, "vision_model.encoder.layers.0.self_attn.q_proj.bias"));
    }
}
