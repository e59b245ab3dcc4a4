package io.mm1j.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.GradCheck;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.Resample;
import io.mm1j.nn.ShapeInit;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.SafeTensorsWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VisionTransformerTest extends ManagedNdTest {
    /** tiny-test's encoder: 32 px, patch 8 → 4×4 grid, width 32, 1 layer, 2 heads. */
    private static final VisionConfig TINY = Presets.load("tiny-test").vision();
    private static final VisionConfig TWO_LAYERS_QUICK_GELU =
            VisionConfig.builder().imageSize(16).patchSize(4).width(16)
                    .layers(2).heads(2).mlpDim(24).activation("quick_gelu").build();

    @TempDir
    Path dir;


    @Test
    void parameterCountEqualsParamCountVisionForTinyAndMini() {
        for (String preset : new String[] {"tiny-test", "mini"}) {
            VisionConfig c = Presets.load(preset).vision();
            try (ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
                VisionTransformer.init(c, p);
                assertEquals(ParamCount.vision(c), p.numel(), preset);
                assertEquals(ParamCount.vision(c), ShapeInit.numel(VisionTransformer.expectedShapes(c)), preset);
            }
        }
    }

    @Test
    void presetEncodersCountLikeTheRealViTs() {
        // HF CLIPVisionModel sizes: openai/clip-vit-large-patch14-336 303,507,456; DFN5B-CLIP-ViT-H-14-378 ≈ 631.4M
        assertEquals(303_507_456L, ShapeInit.numel(VisionTransformer.expectedShapes(
                Presets.load("ablation-1.2b").vision())));
        assertEquals(631_371_520L, ShapeInit.numel(VisionTransformer.expectedShapes(Presets.load("mm1-3b").vision())));
    }

    @Test
    void forwardGivesPatchTokensAndClsAtTrainedAndDoubledResolution() {
        VisionTransformer vit = VisionTransformer.init(TINY, m, DataType.FLOAT32);
        VisionTransformer.Output o = vit.forward(m.randomNormal(new Shape(2, 3, 32, 32)));
        assertEquals(new Shape(2, 16, 32), o.patchTokens().getShape());
        assertEquals(new Shape(2, 32), o.cls().getShape());
        VisionTransformer.Output hi = vit.forward(m.randomNormal(new Shape(1, 3, 64, 64)));
        assertEquals(new Shape(1, 64, 32), hi.patchTokens().getShape());
    }

    @Test
    void positionEmbeddingsAreUnchangedAtTheTrainedGridAndInterpolationIsIdentityThere() {
        VisionTransformer vit = VisionTransformer.init(TINY, m, DataType.FLOAT64);
        NDArray pos = vit.params().get(VisionTransformer.POS);
        assertEquals(pos, vit.positions(4, 4));
        // the interpolation path itself is the identity at the same size (torch bicubic at scale 1: taps 0,1,0,0)
        NDArray grid = pos.get("1:, :").reshape(4, 4, 32).transpose(2, 0, 1); // (D, 4, 4)
        NDArray w = Resample.matrix(m, Resample.torchBicubic(4, 4), 4, 4, DataType.FLOAT64);
        assertArrayEquals(grid.toDoubleArray(), Resample.apply(grid, w, w).toDoubleArray(), 1e-15);
        // a new grid keeps the CLS row and the mean of a constant embedding
        NDArray up = vit.positions(8, 6);
        assertEquals(new Shape(1 + 48, 32), up.getShape());
        assertArrayEquals(pos.get("0, :").toDoubleArray(), up.get("0, :").toDoubleArray(), 0);
    }

    @Test
    void geluIsHfsExactErfGelu() {
        // HF "gelu" = x·Φ(x): Φ(1) = 0.8413447460685429; the tanh approximation would give 0.8411919906082768
        NDArray one = m.create(new double[] {1.0});
        assertEquals(0.8413447460685429, ai.djl.nn.Activation.gelu(one).getDouble(0), 1e-12);
    }

    @Test
    void zeroOutputProjectionsMakeABlockTheIdentity() {
        VisionTransformer vit = VisionTransformer.init(TINY, m, DataType.FLOAT64);
        String l = VisionTransformer.layer(0);
        for (String name : new String[] {"self_attn.out_proj.weight", "self_attn.out_proj.bias", "mlp.fc2.weight",
                "mlp.fc2.bias"}) {
            NDArray p = vit.params().get(l + name);
            p.set(new double[(int) p.size()]);
        }
        NDArray x = m.randomNormal(0, 1, new Shape(2, 5, 32), DataType.FLOAT64);
        assertArrayEquals(x.toDoubleArray(), vit.block(x, 0).toDoubleArray(), 0);
    }

    @Test
    void featureLayerMinusTwoIsTheOutputOfAllButTheLastBlock() {
        VisionConfig secondLast = VisionConfig.builder().imageSize(16).patchSize(4).width(16)
                .layers(2).heads(2).mlpDim(24).activation("quick_gelu").featureLayer(-2).build();
        VisionConfig oneLayer = VisionConfig.builder().imageSize(16).patchSize(4).width(16)
                .layers(1).heads(2).mlpDim(24).activation("quick_gelu").build();
        VisionTransformer full = VisionTransformer.init(TWO_LAYERS_QUICK_GELU, m, DataType.FLOAT64);
        NDArray px = m.randomNormal(0, 1, new Shape(1, 3, 16, 16), DataType.FLOAT64);
        NDArray minusTwo = new VisionTransformer(secondLast, full.params()).forward(px).patchTokens();
        NDArray firstBlockOnly = new VisionTransformer(oneLayer, full.params()).forward(px).patchTokens();
        assertArrayEquals(firstBlockOnly.toDoubleArray(), minusTwo.toDoubleArray(), 0);
        assertTrue(full.forward(px).patchTokens().sub(minusTwo).abs().max().getDouble() > 1e-3);
    }

    @Test
    void blockGradientsMatchFiniteDifferences() {
        VisionTransformer vit = wide(TWO_LAYERS_QUICK_GELU);
        NDArray x = m.randomNormal(0, 1, new Shape(2, 5, 16), DataType.FLOAT64);
        NDArray r = m.randomNormal(0, 1, new Shape(2, 5, 16), DataType.FLOAT64);
        Supplier<NDArray> loss = () -> vit.block(x, 1).mul(r).sum();
        String l = VisionTransformer.layer(1);
        check("block dx", x, loss); // (k_proj.bias has an exactly zero gradient: softmax ignores a per-row shift)
        for (String p : new String[] {"layer_norm1.weight", "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight",
                "self_attn.v_proj.weight", "self_attn.out_proj.weight", "layer_norm2.bias", "mlp.fc1.weight",
                "mlp.fc2.bias"}) {
            check("block d" + p, vit.params().get(l + p), loss);
        }
    }

    @Test
    void wholeEncoderGradientsIncludingInterpolatedPositionsMatchFiniteDifferences() {
        VisionConfig c = VisionConfig.builder().imageSize(8).patchSize(4).width(8)
                .layers(1).heads(2).mlpDim(16).build();
        VisionTransformer vit = wide(c);
        NDArray px = m.randomNormal(0, 1, new Shape(2, 3, 12, 16), DataType.FLOAT64); // 3×4 grid, trained 2×2
        NDArray r = m.randomNormal(0, 1, new Shape(2, 12, 8), DataType.FLOAT64);
        NDArray rc = m.randomNormal(0, 1, new Shape(2, 8), DataType.FLOAT64);
        Supplier<NDArray> loss = () -> {
            VisionTransformer.Output o = vit.forward(px);
            return o.patchTokens().mul(r).sum().add(o.cls().mul(rc).sum());
        };
        check("vit dpixels", px, loss);
        for (String p : new String[] {VisionTransformer.PATCH, VisionTransformer.CLS, VisionTransformer.POS,
                VisionTransformer.PRE_LN + "weight", VisionTransformer.POST_LN + "bias"}) {
            check("vit d" + p, vit.params().get(p), loss);
        }
    }

    /**
     * float64 weights with std 0.3 instead of 0.02: at CLIP's init scale attention is almost uniform and the
     * query/key gradients sit near the finite-difference noise floor.
     */
    private VisionTransformer wide(VisionConfig c) {
        ParamStore p = new ParamStore(m, DataType.FLOAT64);
        ShapeInit.init(p, VisionTransformer.expectedShapes(c), 0.3);
        return new VisionTransformer(c, p);
    }

    private static void check(String what, NDArray p, Supplier<NDArray> loss) {
        double err = GradCheck.maxRelativeError(p, loss, 12, 42);
        assertTrue(err < 1e-6, what + ": max relative error " + err);
    }

    @Test
    void loadsHfClipVisionWeightsByNameAndReproducesTheOutputs() {
        VisionTransformer src = VisionTransformer.init(TINY, m, DataType.FLOAT32);
        writeHf(src.params(), Map.of(), dir.resolve("model.safetensors"));
        try (ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            VisionTransformer loaded = VisionTransformer.load(dir, TINY, p);
            NDArray px = m.randomNormal(new Shape(1, 3, 32, 32));
            assertArrayEquals(src.forward(px).patchTokens().toFloatArray(),
                    loaded.forward(px).patchTokens().toFloatArray(), 0f);
        }
    }

    @Test
    void loadsOpenClipVisualTowerWithFusedInProjection() {
        VisionTransformer src = VisionTransformer.init(TINY, m, DataType.FLOAT32);
        SafeTensorsWriter w = new SafeTensorsWriter();
        src.params().all().forEach((name, a) -> {
            String oc = OpenClipWeights.name(name);
            if (oc != null) {
                w.add(SafeTensorsWriter.Tensor.f32(oc, a.getShape().getShape(), a.toFloatArray()));
            }
        });
        String l = VisionTransformer.layer(0) + "self_attn.";
        NDArray fused = src.params().get(l + "q_proj.weight").concat(src.params().get(l + "k_proj.weight"), 0)
                .concat(src.params().get(l + "v_proj.weight"), 0); // (3D, D), q rows first
        NDArray fusedBias = src.params().get(l + "q_proj.bias").concat(src.params().get(l + "k_proj.bias"), 0)
                .concat(src.params().get(l + "v_proj.bias"), 0);
        String b = OpenClipWeights.block(0) + "attn.";
        w.add(SafeTensorsWriter.Tensor.f32(b + "in_proj_weight", new long[] {96, 32}, fused.toFloatArray()));
        w.add(SafeTensorsWriter.Tensor.f32(b + "in_proj_bias", new long[] {96}, fusedBias.toFloatArray()));
        w.add(SafeTensorsWriter.Tensor.f32("visual.proj", new long[] {32, 8}, new float[256])); // contrastive head
        w.add(SafeTensorsWriter.Tensor.f32("text.token_embedding.weight", new long[] {2, 2}, new float[4]));
        w.write(dir.resolve("model.safetensors"));
        try (ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            VisionTransformer loaded = VisionTransformer.load(dir, TINY, p);
            NDArray px = m.randomNormal(new Shape(1, 3, 32, 32));
            assertArrayEquals(src.forward(px).patchTokens().toFloatArray(),
                    loaded.forward(px).patchTokens().toFloatArray(), 0f);
            assertEquals(ParamCount.vision(TINY), p.numel());
        }
    }

    @Test
    void wrongShapeTensorIsRefusedNamingFileAndTensor() {
        VisionTransformer src = VisionTransformer.init(TINY, m, DataType.FLOAT32);
        Path file = dir.resolve("model.safetensors");
        writeHf(src.params(), Map.of(VisionTransformer.POS, new long[] {10, 32}), file);
        try (ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> VisionTransformer.load(dir, TINY, p));
            assertEquals(file + ": tensor 'vision_model.embeddings.position_embedding.weight' has shape (10, 32) but "
                    + "the config needs (17, 32)", e.getMessage());
        }
    }

    @Test
    void extraEncoderLayerIsRefused() {
        VisionConfig twoLayers = VisionConfig.builder().imageSize(32).patchSize(8).width(32)
                .layers(2).heads(2).mlpDim(64).build();
        VisionTransformer src = VisionTransformer.init(twoLayers, m, DataType.FLOAT32);
        writeHf(src.params(), Map.of(), dir.resolve("model.safetensors"));
        try (ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> VisionTransformer.load(dir, TINY, p));
            assertTrue(e.getMessage().startsWith(dir + ": unexpected vision tensors for this config, e.g. "
                    + "'vision_model.encoder.layers.1."), e.getMessage());
        }
    }

    /** Writes every parameter under its HF name; {@code reshape} overrides a tensor's shape (random values). */
    private static void writeHf(ParamStore p, Map<String, long[]> reshape, Path file) {
        SafeTensorsWriter w = new SafeTensorsWriter();
        p.all().forEach((name, a) -> {
            long[] shape = reshape.getOrDefault(name, a.getShape().getShape());
            float[] v = reshape.containsKey(name) ? new float[(int) new Shape(shape).size()] : a.toFloatArray();
            w.add(SafeTensorsWriter.Tensor.f32(name, shape, v));
        });
        w.write(file);
    }

    @Test
    void inferenceInGroupsOfImagesEqualsTheWholeBatch() {
        VisionTransformer vit = VisionTransformer.init(TWO_LAYERS_QUICK_GELU, m, DataType.FLOAT64);
        NDArray px = m.randomNormal(0, 1, new Shape(5, 3, 16, 16), DataType.FLOAT64);
        VisionTransformer.Output whole = vit.forward(px); // 5 tiny images fit one group
        VisionTransformer.Output grouped = vit.encodeInGroups(px, 2); // 2 + 2 + 1
        assertArrayEquals(whole.patchTokens().toDoubleArray(), grouped.patchTokens().toDoubleArray(), 1e-12);
        assertArrayEquals(whole.cls().toDoubleArray(), grouped.cls().toDoubleArray(), 1e-12);
        assertEquals(new Shape(5, 16, 16), grouped.patchTokens().getShape());
    }
}
