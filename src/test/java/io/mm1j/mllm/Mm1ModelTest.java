package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.TestSupport;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
import io.mm1j.Mm1Exception;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Mm1ModelTest {
    static final int IMG = 3; // placeholder id used by these tests
    private NDManager m;
    private Mm1Config cfg;

    @TempDir
    Path tmp;

    @BeforeEach
    void setUp() {
        m = TestSupport.root().newSubManager();
        cfg = Presets.load("tiny-test");
    }

    @AfterEach
    void tearDown() {
        m.close();
    }

    /** ids with two images (k = 4 each) at positions 2..5 and 9..12 of a 16-token row. */
    private NDArray twoImageIds() {
        long[] ids = new long[16];
        for (int i = 0; i < 16; i++) {
            ids[i] = 10 + i;
        }
        for (int i = 2; i < 6; i++) {
            ids[i] = IMG;
        }
        for (int i = 9; i < 13; i++) {
            ids[i] = IMG;
        }
        return m.create(ids, new Shape(1, 16));
    }

    private NDArray images(int n) {
        int s = cfg.vision().imageSize();
        return m.randomNormal(0, 1, new Shape(n, 3, s, s), DataType.FLOAT64);
    }

    @Test
    void changingTheSecondImageOnlyChangesLogitsFromItsSlotOn() {
        try (Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT64)) {
            NDArray ids = twoImageIds();
            NDArray px = images(2);
            NDArray px2 = px.duplicate();
            px2.set(new NDIndex("1"), m.randomNormal(0, 1, new Shape(3, 32, 32), DataType.FLOAT64));
            NDArray a = model.forward(ids, px, IMG).logits();
            NDArray b = model.forward(ids, px2, IMG).logits();
            double before = a.get(":, :9, :").sub(b.get(":, :9, :")).abs().max().getDouble();
            double after = a.get(":, 9:, :").sub(b.get(":, 9:, :")).abs().max().getDouble();
            assertEquals(0, before, 0, "causal: positions before image 2's slot cannot see it");
            assertTrue(after > 1e-6, "positions from image 2's slot on must change, max |Δ| = " + after);
        }
    }

    @Test
    void theSameImageAtTwoSlotsGivesTheSameImageEmbeddings() {
        try (Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT64)) {
            NDArray one = images(1);
            NDArray px = one.concat(one, 0);
            NDArray emb = model.inputEmbeddings(twoImageIds(), px, IMG); // (1, 16, D)
            NDArray first = emb.get(":, 2:6, :");
            NDArray second = emb.get(":, 9:13, :");
            // equal up to float64 rounding (the two copies sit in different rows of batched matmuls)
            assertEquals(0, first.sub(second).abs().max().getDouble(), 1e-12);
            assertFalse(first.sub(model.decoder().embed(m.create(new long[] {IMG, IMG, IMG, IMG}, new Shape(1, 4))))
                    .abs().max().getDouble() == 0, "slots hold image tokens, not the placeholder embedding");
        }
    }

    @Test
    void inferenceEncodesImagesInGroupsExactly() {
        // every connector type works per image, so encoder + connector over groups equals the whole batch
        for (io.mm1j.config.ConnectorType type : io.mm1j.config.ConnectorType.values()) {
            Mm1Config c = new Mm1Config(cfg.name(), cfg.description(), cfg.llm(), cfg.vision(),
                    new io.mm1j.config.ConnectorConfig(type, type == io.mm1j.config.ConnectorType.MLP
                            ? cfg.vision().numPatches() : cfg.connector().imageTokens(),
                            cfg.connector().blocksPerStage()), cfg.maxImagesPerSequence());
            try (Mm1Model model = Mm1Model.init(c, m, DataType.FLOAT64)) {
                NDArray px = images(5);
                boolean gradMode = ai.djl.pytorch.jni.JniUtils.isGradMode();
                ai.djl.pytorch.jni.JniUtils.setGradMode(false); // grouping is for inference only
                try {
                    NDArray whole = model.encodeImagesInGroups(px, 5);
                    NDArray grouped = model.encodeImagesInGroups(px, 2); // 2 + 2 + 1
                    assertEquals(whole.getShape(), grouped.getShape());
                    assertEquals(0, whole.sub(grouped).abs().max().getDouble(), 1e-12, type.json());
                } finally {
                    ai.djl.pytorch.jni.JniUtils.setGradMode(gradMode);
                }
            }
        }
    }

    @Test
    void parameterCountMatchesTheConfigCountsForEveryComponent() {
        try (Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
            assertEquals(ParamCount.all(cfg).get("total"), model.params().numel());
        }
    }

    @Test
    void saveAndLoadGiveIdenticalMultimodalLogits() {
        try (Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
            model.save(tmp);
            NDArray ids = twoImageIds();
            NDArray px = images(2).toType(DataType.FLOAT32, false);
            float[] a = model.forward(ids, px, IMG).logits().toFloatArray();
            try (Mm1Model back = Mm1Model.load(tmp, m, DataType.FLOAT32)) {
                assertEquals(cfg, back.config());
                float[] b = back.forward(ids, px, IMG).logits().toFloatArray();
                assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b));
            }
        }
    }

    @Test
    void frozenComponentsStayUnchangedWhileTheRestTrains() {
        try (Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
            model.freeze(Mm1Model.Component.VISION);
            model.params().enableGradients();
            String vit = "vision_model.encoder.layers.0.mlp.fc1.weight";
            String llm = "model.layers.0.self_attn.q_proj.weight";
            float[] vitBefore = model.params().get(vit).toFloatArray();
            float[] llmBefore = model.params().get(llm).toFloatArray();
            NDArray ids = twoImageIds();
            NDArray px = images(2).toType(DataType.FLOAT32, false);
            try (io.mm1j.train.AdamW opt = io.mm1j.train.AdamW.standard(model.params())) {
                io.mm1j.train.LmStep.run(() -> model.forward(ids, px, IMG), opt, ids, null, 1e-2, 0.0, 1.0);
            }
            assertEquals(java.util.Arrays.toString(vitBefore),
                    java.util.Arrays.toString(model.params().get(vit).toFloatArray()), "frozen encoder");
            assertFalse(java.util.Arrays.equals(llmBefore, model.params().get(llm).toFloatArray()), "LLM trains");
        }
    }

    @Test
    void textOnlyBatchTrainsAMultimodalModelAndLeavesTheEncoderAlone() {
        try (Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
            model.params().enableGradients();
            String vit = "vision_model.encoder.layers.0.mlp.fc1.weight";
            float[] before = model.params().get(vit).toFloatArray();
            NDArray ids = m.create(new long[] {1, 20, 21, 22, 23, 2}, new Shape(1, 6));
            try (io.mm1j.train.AdamW opt = io.mm1j.train.AdamW.standard(model.params())) {
                double loss = io.mm1j.train.LmStep.run(() -> model.forward(ids, null, IMG), opt, ids, null, 1e-2, 0.1,
                        1.0).loss();
                assertTrue(Double.isFinite(loss));
            }
            assertEquals(java.util.Arrays.toString(before),
                    java.util.Arrays.toString(model.params().get(vit).toFloatArray()),
                    "no gradient reached the encoder, so neither Adam nor weight decay may move it");
        }
    }

    @Test
    void wrongImageCountIsAClearError() {
        try (Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT32)) {
            Mm1Exception e = assertThrows(Mm1Exception.class,
                    () -> model.forward(twoImageIds(), images(1).toType(DataType.FLOAT32, false), IMG));
            assertEquals("image slots: the sequence has 8 <image> placeholder positions but 1 image(s) × 4 tokens "
                    + "need 4", e.getMessage());
        }
    }
}
