package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.ManagedNdTest;
import io.mm1j.Mm1Exception;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.MoeConfig;
import io.mm1j.config.Presets;
import io.mm1j.llm.Decoder;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.ParamStore;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Checkpointed losses and gradients equal the plain forward + backward (float64). */
class ActivationCheckpointingTest extends ManagedNdTest {
    private static final double TOL = 1e-10;
    private static final int IMG = 3;

    /** Plain path: forward and backward of CE + aux under one recording; returns {loss, aux}. */
    private static double[] plain(Supplier<Decoder.Output> forward, NDArray targets, NDArray mask) {
        try (NDScope scope = new NDScope();
             GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            Decoder.Output out = forward.get();
            NDArray ce = Losses.crossEntropy(out.logits(), targets, mask);
            NDArray total = out.auxLoss() == null ? ce : ce.add(out.auxLoss());
            gc.backward(total);
            scope.suppressNotUsedWarning();
            return new double[] {ce.getDouble(), out.auxLoss() == null ? 0 : out.auxLoss().getDouble()};
        }
    }

    /** Every trainable parameter's gradient, read and then zeroed. */
    private static Map<String, double[]> takeGradients(ParamStore p) {
        Map<String, double[]> g = new LinkedHashMap<>();
        p.all().forEach((name, a) -> {
            if (p.isTrainable(name)) {
                try (NDArray grad = a.getGradient(); NDArray g64 = grad.toType(DataType.FLOAT64, true)) {
                    g.put(name, g64.toDoubleArray()); // an unreached parameter reads as float32 zeros
                }
                JniUtils.zeroGrad((PtNDArray) a);
            }
        });
        return g;
    }

    private static void assertSameGradients(Map<String, double[]> want, Map<String, double[]> got) {
        assertEquals(want.keySet(), got.keySet());
        double scale = 0;
        for (double[] g : want.values()) {
            for (double v : g) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        assertTrue(scale > 0, "the plain path produced gradients");
        for (String name : want.keySet()) {
            double[] a = want.get(name);
            double[] b = got.get(name);
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], b[i], TOL * scale, name + "[" + i + "]");
            }
        }
    }

    private void decoderCase(LlmConfig c, boolean padded) {
        Engine.getEngine("PyTorch").setRandomSeed(11);
        Decoder d = Decoder.init(c, m, DataType.FLOAT64);
        d.params().enableGradients();
        NDArray tokens = m.randomInteger(3, c.vocabSize(), new Shape(2, 13), DataType.INT64);
        NDArray in = tokens.get(":, :-1");
        NDArray targets = tokens.get(":, 1:");
        NDArray keep = padded ? m.create(new float[] {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
            1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, new Shape(2, 12)) : null;
        double[] want = plain(() -> d.forward(d.embed(in), keep, null, false), targets, keep);
        Map<String, double[]> wantGrads = takeGradients(d.params());
        ActivationCheckpointing.Result got = ActivationCheckpointing.lmGradients(d, in, keep, targets, keep);
        assertEquals(want[0], got.loss(), TOL, "loss");
        assertEquals(want[1], got.auxLoss(), TOL, "aux loss");
        if (c.moe() != null) {
            assertTrue(got.auxLoss() > 0, "MoE layers add their balance and z-losses");
        }
        assertSameGradients(wantGrads, takeGradients(d.params()));
        d.params().close();
    }

    @Test
    void denseDecoderLossAndGradientsEqualThePlainPath() {
        decoderCase(LlmConfig.llama(50, 32, 64, 1, 4, 2, 64, false), false);
        decoderCase(LlmConfig.llama(50, 32, 64, 3, 4, 2, 64, true), false);
        decoderCase(LlmConfig.llama(50, 32, 64, 2, 4, 2, 64, false), true);
    }

    @Test
    void moeDecoderLossAuxLossesAndGradientsEqualThePlainPath() {
        decoderCase(LlmConfig.llama(50, 32, 48, 2, 4, 2, 64, true).withMoe(new MoeConfig(4, 2, 2, 0, 0.01, 0.001, 0)),
                false);
    }

    /** tiny-test with a 2-block ViT and a C-Abstractor (one bottleneck per stage). */
    private static Mm1Config tinyMm1() throws Exception {
        ObjectNode tree = Presets.JSON.valueToTree(Presets.load("tiny-test"));
        ((ObjectNode) tree.get("vision")).put("layers", 2);
        ((ObjectNode) tree.get("connector")).put("type", "c-abstractor");
        return Presets.JSON.treeToValue(tree, Mm1Config.class);
    }

    private void mm1Case(boolean frozenVision) throws Exception {
        Engine.getEngine("PyTorch").setRandomSeed(12);
        try (Mm1Model model = Mm1Model.init(tinyMm1(), m, DataType.FLOAT64)) {
            if (frozenVision) {
                model.freeze(Mm1Model.Component.VISION);
            }
            model.params().enableGradients();
            long[] ids = new long[2 * 12];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 10 + (i * 7) % 50;
            }
            for (int i = 2; i < 6; i++) {
                ids[i] = IMG; // row 0: one image (k = 4) at 2..5
                ids[12 + 4 + i] = IMG; // row 1: one image at 6..9
            }
            NDArray in = m.create(ids, new Shape(2, 12));
            NDArray targets = m.randomInteger(10, 60, new Shape(2, 12), DataType.INT64);
            float[] lm = new float[24];
            for (int i = 0; i < 24; i++) {
                lm[i] = ids[i] == IMG ? 0 : 1; // MM1: no loss on image slots
            }
            NDArray lossMask = m.create(lm, new Shape(2, 12));
            NDArray pixels = m.randomNormal(0, 1, new Shape(2, 3, 32, 32), DataType.FLOAT64);
            double[] want = plain(() -> model.forward(in, pixels, IMG), targets, lossMask);
            Map<String, double[]> wantGrads = takeGradients(model.params());
            ActivationCheckpointing.Result got =
                    ActivationCheckpointing.lmGradients(model, in, pixels, IMG, null, targets, lossMask);
            assertEquals(want[0], got.loss(), TOL, "loss");
            assertSameGradients(wantGrads, takeGradients(model.params()));

            // the trainer's path: packed rows with padding and a between-documents mask, its own loss
            NDArray keep = m.create(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, new Shape(2, 12)).toType(DataType.FLOAT64, false);
            NDArray docs = io.mm1j.nn.Attention.documents(m.create(new long[] {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, -1, -1,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, new Shape(2, 12)), DataType.FLOAT64);
            double[] wantPacked = plain(() -> model.decoder().forward(model.inputEmbeddings(in, pixels, IMG), keep,
                    docs, null, false), targets, lossMask);
            Map<String, double[]> wantPackedGrads = takeGradients(model.params());
            ActivationCheckpointing.Result packed = ActivationCheckpointing.gradients(model,
                    new Mm1Model.BatchInputs(in, pixels, keep, docs), IMG, 1,
                    logits -> Losses.crossEntropy(logits, targets, lossMask));
            assertEquals(wantPacked[0], packed.loss(), TOL, "packed loss");
            assertSameGradients(wantPackedGrads, takeGradients(model.params()));

            // the trainer's row-sum loss with the LM head run one row at a time: same loss, same gradients
            double denom = 0;
            for (float v : lm) {
                denom += v;
            }
            NDArray d = m.create(denom);
            ActivationCheckpointing.Result chunked = ActivationCheckpointing.gradients(model,
                    new Mm1Model.BatchInputs(in, pixels, keep, docs), IMG, 1, (logits, from, to) -> {
                        NDIndex rows = new NDIndex("{}:{}", from, to);
                        assertEquals(1, logits.getShape().get(0), "one row per chunk");
                        NDArray nll = logits.logSoftmax(-1).gather(targets.get(rows).expandDims(-1), -1).squeeze(-1);
                        return nll.mul(lossMask.get(rows)).sum().div(d).neg();
                    }, 1);
            assertEquals(wantPacked[0], chunked.loss(), TOL, "loss over chunks of rows");
            assertSameGradients(wantPackedGrads, takeGradients(model.params()));
        }
    }

    @Test
    void visionConnectorAndDecoderGradientsEqualThePlainPath() throws Exception {
        mm1Case(false);
    }

    @Test
    void withAFrozenEncoderTheTrainedPartsStillMatch() throws Exception {
        mm1Case(true);
    }

    @Test
    void insideAnotherGradientRecordingItRefusesWithAClearError() {
        Decoder d = Decoder.init(LlmConfig.llama(50, 32, 64, 1, 4, 2, 64, true), m, DataType.FLOAT64);
        d.params().enableGradients();
        NDArray ids = m.randomInteger(3, 50, new Shape(1, 5), DataType.INT64);
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            Mm1Exception e = assertThrows(Mm1Exception.class,
                    () -> ActivationCheckpointing.lmGradients(d, ids, null, ids, null));
            assertTrue(e.getMessage().contains("outside a GradientCollector"), e.getMessage());
        }
        d.params().close();
    }
}
