package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mm1j.ManagedNdTest;
import io.mm1j.TestSupport;
import io.mm1j.config.LlmConfig;
import io.mm1j.llm.Decoder;
import io.mm1j.nn.ScriptKernels;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The training step's fused forms give the composed forms' loss and every parameter's gradient: the cross-entropy
 * (one log-softmax outside autograd, its gradient handed back through a surrogate objective), the LM head taken out of
 * autograd, and the RMSNorm weights folded into the projections that read the norms.
 */
class LossesTest extends ManagedNdTest {
    /** The step's loss and every parameter gradient, by name, with the fused kernel on or off. */
    private Map<String, double[]> lossAndGradients(Decoder d, NDArray in, NDArray target, NDArray mask,
                                                   boolean fused, boolean head) {
        return lossAndGradients(d, in, target, mask, "mm1.fusedCrossEntropy", fused, head);
    }

    /** The same with the system property {@code knob} (a fused form's off switch) set to {@code on}. */
    private Map<String, double[]> lossAndGradients(Decoder d, NDArray in, NDArray target, NDArray mask, String knob,
                                                   boolean on, boolean head) {
        String old = System.getProperty(knob);
        System.setProperty(knob, Boolean.toString(on));
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            double count = mask == null ? target.getShape().size() : mask.sum().getDouble();
            Losses.TokenLoss ce = head
                    ? Losses.headLoss(d, d.hidden(d.embed(in), null, null, null).h(), target, mask, 1 / count)
                    : Losses.tokenLoss(d.forward(in).logits(), target, mask, 1 / count);
            gc.backward(ce.objective());
            Map<String, double[]> out = new TreeMap<>();
            NDArray nll = mask == null ? ce.nll() : ce.nll().mul(mask);
            out.put("loss", new double[] {nll.sum().getDouble() / count});
            for (Map.Entry<String, NDArray> p : d.params().all().entrySet()) {
                NDArray g = p.getValue().getGradient();
                out.put(p.getKey(), g.toDoubleArray());
                g.subi(g); // the collector does not zero gradients
            }
            return out;
        } finally {
            if (old == null) {
                System.clearProperty(knob);
            } else {
                System.setProperty(knob, old);
            }
        }
    }

    private static void assertClose(Map<String, double[]> want, Map<String, double[]> got, String what) {
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) {
            double[] a = want.get(k);
            double[] b = got.get(k);
            double scale = 0;
            for (double x : a) {
                scale = Math.max(scale, Math.abs(x));
            }
            assertTrue(scale > 0, what + ": " + k + " has a gradient");
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], b[i], 1e-12 * scale, what + ": " + k + "[" + i + "]");
            }
        }
    }

    @Test
    void fusedLossAndHeadGiveTheComposedGradientsWithAndWithoutAMask() {
        for (boolean tied : new boolean[] {true, false}) {
            TestSupport.root().getEngine().setRandomSeed(11);
            LlmConfig c = LlmConfig.llama(40, 16, 32, 2, 2, 1, 16, tied);
            try (Decoder d = Decoder.init(c, m, DataType.FLOAT64)) {
                d.params().enableGradients();
                NDArray tokens = m.randomInteger(0, c.vocabSize(), new Shape(2, 9), DataType.INT64);
                NDArray in = tokens.get(":, :-1");
                NDArray target = tokens.get(":, 1:");
                NDArray mask = m.create(new float[] {0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1},
                        new Shape(2, 8)).toType(DataType.FLOAT64, false);
                for (NDArray msk : new NDArray[] {null, mask}) {
                    String what = (tied ? "tied" : "untied") + (msk == null ? ", no mask" : ", masked");
                    Map<String, double[]> composed = lossAndGradients(d, in, target, msk, false, false);
                    assertClose(composed, lossAndGradients(d, in, target, msk, true, false), what + ", loss");
                    assertClose(composed, lossAndGradients(d, in, target, msk, true, true), what + ", head");
                    assertClose(composed, lossAndGradients(d, in, target, msk, false, true), what + ", head off");
                }
            }
        }
    }

    @Test
    void foldingTheNormWeightsIntoTheProjectionsKeepsTheLossAndEveryGradient() {
        TestSupport.root().getEngine().setRandomSeed(12);
        LlmConfig c = LlmConfig.llama(40, 16, 32, 2, 2, 1, 16, true);
        try (Decoder d = Decoder.init(c, m, DataType.FLOAT64)) {
            for (Map.Entry<String, NDArray> p : d.params().all().entrySet()) {
                if (p.getKey().endsWith("layernorm.weight")) { // away from their initial ones, where folding is trivial
                    p.getValue().addi(m.randomUniform(-0.5f, 0.5f, p.getValue().getShape(), DataType.FLOAT64));
                }
            }
            d.params().enableGradients();
            NDArray tokens = m.randomInteger(0, c.vocabSize(), new Shape(2, 9), DataType.INT64);
            NDArray in = tokens.get(":, :-1");
            NDArray target = tokens.get(":, 1:");
            Map<String, double[]> weighted = lossAndGradients(d, in, target, null, "mm1.foldNorms", false, true);
            Map<String, double[]> folded = lossAndGradients(d, in, target, null, "mm1.foldNorms", true, true);
            assertClose(weighted, folded, "folded norms");
            assertTrue(weighted.get("loss")[0] != folded.get("loss")[0]
                    || !java.util.Arrays.equals(weighted.get("model.norm.weight"), folded.get("model.norm.weight"))
                    || !java.util.Arrays.equals(weighted.get("model.layers.0.input_layernorm.weight"),
                    folded.get("model.layers.0.input_layernorm.weight")), "the two forms are computed differently");
        }
    }

    @Test
    void theKernelsNllIsTheComposedOneBitForBitAndItsGradientSoftmaxMinusOnehot() {
        // row 0: the target is 120 nats below the maximum (p(target) = e^-120 is no normal float32)
        NDArray x = m.create(new float[] {0, 120, 3, -1, 2, 1, 0.5f, 0, 4, -3, 1, 1}, new Shape(3, 4));
        NDArray t = m.create(new long[] {0, 2, 3}, new Shape(3, 1));
        NDList r = ScriptKernels.crossEntropyGradient(x, t, m.create(new long[] {1}));
        assertNotNull(r, "libtorch 2.7.1 runs the cross-entropy module");
        float[] nll = r.get(0).toFloatArray();
        assertEquals(120f, nll[0], 1e-3f);
        org.junit.jupiter.api.Assertions.assertArrayEquals(x.logSoftmax(-1).gather(t, -1).neg().toFloatArray(), nll);
        // a row's NLL does not depend on the other rows (the checkpointed path runs the head over chunks of rows)
        assertEquals(nll[2], ScriptKernels.crossEntropyGradient(x.get("2:3"), t.get("2:3"), m.create(new long[0]))
                .get(0).getFloat(0, 0), 0f);
        float[] g = r.get(1).toFloatArray();
        float[] p = x.softmax(-1).toFloatArray();
        assertEquals(p[0] - 1, g[0], 1e-6f, "softmax − onehot at the target");
        assertEquals(p[1], g[1], 1e-6f);
        for (int j = 4; j < 8; j++) {
            assertEquals(0f, g[j], 0f, "dropped row 1, column " + (j - 4));
        }
        assertEquals(p[11] - 1, g[11], 1e-6f);
    }

    /** The "loss" metric of one TrainLoop step on {@code b} (tiny-test, float64), plain or checkpointed. */
    private double stepLoss(io.mm1j.data.Batch b, boolean checkpointed) {
        io.mm1j.mllm.Mm1Model model = DataParallelTest.model(io.mm1j.config.Presets.load("tiny-test"), m);
        double[] loss = new double[1];
        TrainLoop.Listener listener = new TrainLoop.Listener() {
            @Override
            public void onStep(long step, Map<String, Double> metrics) {
                loss[0] = metrics.get("loss");
            }

            @Override
            public void onEval(long step, Map<String, Double> metrics) {}

            @Override
            public void onCheckpoint(long step, io.mm1j.data.Batch last) {}
        };
        TrainLoop.Settings s = new TrainLoop.Settings(1, 0, 1, 1.0, 0.0, true, 0, 0, java.util.List.of("a"), 0, 0,
                checkpointed);
        try (AdamW opt = AdamW.standard(model.params())) {
            new TrainLoop(model, opt, new LrSchedule(1e-2, 0, 1, 0.1), s, Map.of(), listener)
                    .run(java.util.List.of(b).iterator(), 0, () -> false);
        }
        model.close();
        return loss[0];
    }

    @Test
    void aStepsLossWithAWeightedMaskIsTheWeightedNllItsGradientIsOf() {
        // a mask with values other than 0 and 1 weights each token's NLL in the objective (the composed form);
        // the reported loss is the same weighted sum over the trained tokens: halving every weight halves it
        io.mm1j.data.Batch b = DataParallelTest.batch();
        float[] half = b.lossMask().clone();
        for (int i = 0; i < half.length; i++) {
            half[i] *= 0.5f;
        }
        io.mm1j.data.Batch h = new io.mm1j.data.Batch(b.batchSize(), b.seqLen(), b.tokens(), b.targets(), half,
                b.images(), b.imageTokens(), b.cursor(), b.segments(), b.sources());
        for (boolean checkpointed : new boolean[] {false, true}) {
            double full = stepLoss(b, checkpointed);
            assertEquals(0.5 * full, stepLoss(h, checkpointed), 1e-12 * full,
                    checkpointed ? "checkpointed" : "plain");
        }
    }

    /** Matrix products (aten::mm, bmm, addmm) that libtorch's profiler records while {@code r} runs. */
    private static int matrixProducts(Runnable r) throws java.io.IOException {
        java.nio.file.Path trace = java.nio.file.Files.createTempFile("mm1j-trace", ".json");
        try {
            ai.djl.pytorch.jni.JniUtils.startProfile(false, false, false);
            try {
                r.run();
            } finally {
                ai.djl.pytorch.jni.JniUtils.stopProfile(trace.toString());
            }
            String json = java.nio.file.Files.readString(trace);
            int n = 0;
            for (String op : new String[] {"aten::mm", "aten::bmm", "aten::addmm"}) {
                n += json.split(java.util.regex.Pattern.quote("\"name\": \"" + op + "\""), -1).length - 1;
            }
            return n;
        } finally {
            java.nio.file.Files.deleteIfExists(trace);
        }
    }

    @Test
    void withoutTheKernelTheHeadLossRunsTheHeadsProductOnceAsTheComposedLossDoes() throws Exception {
        // -Dmm1.fusedCrossEntropy=false (the comparison knob) or a kernel that does not load: the composed form,
        // at the composed form's cost (not an extra (N, D)·(D, V) product made and thrown away first)
        TestSupport.root().getEngine().setRandomSeed(11);
        LlmConfig c = LlmConfig.llama(40, 16, 32, 1, 2, 1, 16, false);
        String old = System.getProperty("mm1.fusedCrossEntropy");
        System.setProperty("mm1.fusedCrossEntropy", "false");
        try (Decoder d = Decoder.init(c, m, DataType.FLOAT32);
             GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            d.params().enableGradients();
            NDArray tokens = m.randomInteger(0, c.vocabSize(), new Shape(2, 9), DataType.INT64);
            NDArray target = tokens.get(":, 1:");
            NDArray h = d.hidden(d.embed(tokens.get(":, :-1")), null, null, null).h();
            int composed = matrixProducts(() -> Losses.crossEntropy(
                    io.mm1j.nn.Ops.linear(d.headInput(h), d.headWeight()), target, null));
            assertEquals(1, composed);
            assertEquals(composed, matrixProducts(() -> Losses.headLoss(d, h, target, null, 1.0 / 16)));
        } finally {
            if (old == null) {
                System.clearProperty("mm1.fusedCrossEntropy");
            } else {
                System.setProperty("mm1.fusedCrossEntropy", old);
            }
        }
    }
}
