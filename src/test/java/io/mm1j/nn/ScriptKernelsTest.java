package io.mm1j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mm1j.ManagedNdTest;
import io.mm1j.train.AdamW;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** libtorch's fused attention, AdamW, SiLU and gradient norms, reached through mm1j's TorchScript archive, equal the composed forms. */
class ScriptKernelsTest extends ManagedNdTest {
    /** Runs {@code body} with the fused kernels on or off. */
    static <T> T with(boolean fused, Supplier<T> body) {
        String old = System.getProperty("mm1.fusedKernels");
        System.setProperty("mm1.fusedKernels", Boolean.toString(fused));
        try {
            return body.get();
        } finally {
            if (old == null) {
                System.clearProperty("mm1.fusedKernels");
            } else {
                System.setProperty("mm1.fusedKernels", old);
            }
        }
    }

    private NDArray rand(long... shape) {
        NDArray a = m.randomNormal(new Shape(shape), DataType.FLOAT64);
        a.setRequiresGradient(true);
        return a;
    }

    /** Output and the gradients of q, k and v for a fixed projection of the output, as one flat array. */
    private double[] outputAndGradients(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causal,
                                        NDArray scale, NDArray projection) {
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray out = Attention.attend(q, k, v, mask, causal, scale);
            gc.backward(out.mul(projection).sum());
            double[] o = out.toDoubleArray();
            double[] gq = q.getGradient().toDoubleArray();
            double[] gk = k.getGradient().toDoubleArray();
            double[] gv = v.getGradient().toDoubleArray();
            for (NDArray x : new NDArray[] {q, k, v}) {
                x.getGradient().subi(x.getGradient()); // the collector does not zero gradients
            }
            double[] all = new double[o.length + gq.length + gk.length + gv.length];
            System.arraycopy(o, 0, all, 0, o.length);
            System.arraycopy(gq, 0, all, o.length, gq.length);
            System.arraycopy(gk, 0, all, o.length + gq.length, gk.length);
            System.arraycopy(gv, 0, all, o.length + gq.length + gk.length, gv.length);
            return all;
        }
    }

    @Test
    void fusedAttentionEqualsTheComposedOneWithGradientsForEveryMaskAndGqa() {
        assertNotNull(ScriptKernels.attention(), "libtorch 2.7.1 has scaled_dot_product_attention");
        // B=2, H=4 query heads over KV=2 heads, T=S=11, hd=8, float64
        NDArray q = rand(2, 4, 11, 8);
        NDArray k = rand(2, 2, 11, 8);
        NDArray v = rand(2, 2, 11, 8);
        NDArray projection = m.randomNormal(new Shape(2, 4, 11, 8), DataType.FLOAT64);
        NDArray scale = m.create(1 / Math.sqrt(8));
        Attention attention = new Attention(m);
        NDArray causal = attention.causal(11, 11, 0, DataType.FLOAT64); // (1, 1, 1, T, S)
        assertTrue(attention.isCausal(causal));
        NDArray keep = m.create(new long[] {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
                new Shape(2, 11));
        NDArray padded = causal.add(Attention.padding(keep, DataType.FLOAT64)); // (B, 1, 1, T, S)
        NDArray segments = m.create(new long[] {0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1},
                new Shape(2, 11));
        NDArray documents = causal.add(Attention.documents(segments, DataType.FLOAT64));
        NDArray[] masks = {null, causal, causal, padded, documents};
        boolean[] flags = {false, false, true, false, false};
        String[] names = {"none", "causal as a mask", "causal flag", "causal + padding", "causal + documents"};
        for (int i = 0; i < masks.length; i++) {
            NDArray mask = masks[i];
            boolean flag = flags[i];
            double[] composed = with(false, () -> outputAndGradients(q, k, v, mask, flag, scale, projection));
            double[] fused = with(true, () -> outputAndGradients(q, k, v, mask, flag, scale, projection));
            assertArrayEquals(composed, fused, 1e-10, names[i]);
        }
    }

    @Test
    void statusNamesTheFormEachKernelTakes() {
        assertEquals(java.util.Map.of("attention", "fused", "adamw", "fused", "silu", "fused", "norms", "fused",
                "rope", "fused", "crossEntropy", "fused"), with(true, ScriptKernels::status));
        assertEquals(java.util.Map.of("attention", "off", "adamw", "off", "silu", "off", "norms", "off", "rope",
                "off", "crossEntropy", "off"), with(false, ScriptKernels::status));
    }

    /** Loss and every parameter's gradient of one recorded decoder forward + backward, as one flat array. */
    private double[] decoderLossAndGradients(io.mm1j.llm.Decoder d, NDArray ids, NDArray projection) {
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray logits = d.forward(ids).logits();
            NDArray loss = logits.mul(projection).sum();
            gc.backward(loss);
            java.util.List<double[]> parts = new java.util.ArrayList<>();
            parts.add(logits.toDoubleArray());
            for (java.util.Map.Entry<String, NDArray> e : new java.util.TreeMap<>(d.params().all()).entrySet()) {
                parts.add(e.getValue().getGradient().toDoubleArray());
                e.getValue().getGradient().subi(e.getValue().getGradient());
            }
            return concat(parts.toArray(double[][]::new));
        }
    }

    /**
     * Training's rotary embedding (queries and keys projected in pair order, one complex product per pair) gives
     * the logits and every gradient of the standard half-split form, with grouped-query attention, in float64.
     */
    @Test
    void pairedRopeInTrainingEqualsTheStandardFormWithGradients() {
        assertTrue(io.mm1j.nn.Rope.pairedAvailable(DataType.FLOAT64));
        io.mm1j.config.LlmConfig c = io.mm1j.config.LlmConfig.llama(50, 32, 64, 2, 4, 2, 64, false);
        try (io.mm1j.llm.Decoder d = io.mm1j.llm.Decoder.init(c, m, DataType.FLOAT64)) {
            d.params().enableGradients();
            NDArray ids = m.create(new long[] {1, 7, 3, 44, 12, 9, 30, 2, 5, 6, 17, 40}, new Shape(2, 6));
            NDArray projection = m.randomNormal(new Shape(2, 6, 50), DataType.FLOAT64);
            double[] standard = with(false, () -> decoderLossAndGradients(d, ids, projection));
            double[] paired = with(true, () -> decoderLossAndGradients(d, ids, projection));
            assertEquals(standard.length, paired.length);
            assertArrayEquals(standard, paired, 1e-10);
            double[] noGrad = io.mm1j.nn.BlockScope.noGrad(() -> d.forward(ids).logits().toDoubleArray());
            assertArrayEquals(noGrad, java.util.Arrays.copyOf(paired, noGrad.length), 1e-12,
                    "inference (standard form) and training (paired form) give the same logits");
        }
    }

    /** silu(g)·u and silu(x) with the gradients of g and u, as one flat array. */
    private double[] siluAndGradients(NDArray g, NDArray u, NDArray projection) {
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray both = Ops.siluMul(g, u);
            NDArray alone = Ops.silu(u);
            gc.backward(both.mul(projection).sum().add(alone.mul(projection).sum().mul(m.create(0.5))));
            double[] all = concat(both.toDoubleArray(), alone.toDoubleArray(), g.getGradient().toDoubleArray(),
                    u.getGradient().toDoubleArray());
            for (NDArray x : new NDArray[] {g, u}) {
                x.getGradient().subi(x.getGradient());
            }
            return all;
        }
    }

    private static double[] concat(double[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToDouble(java.util.Arrays::stream).toArray();
    }

    @Test
    void fusedSiluEqualsTheComposedOneWithGradients() {
        assertNotNull(ScriptKernels.silu(), "libtorch 2.7.1 has silu");
        NDArray g = rand(3, 5, 7);
        NDArray u = rand(3, 5, 7);
        NDArray projection = m.randomNormal(new Shape(3, 5, 7), DataType.FLOAT64);
        double[] composed = with(false, () -> siluAndGradients(g, u, projection));
        double[] fused = with(true, () -> siluAndGradients(g, u, projection));
        assertArrayEquals(composed, fused, 1e-12);
        // and against the definition: silu(x) = x / (1 + e^-x), d/dx = σ(x)(1 + x(1 − σ(x)))
        double[] gv = g.toDoubleArray();
        double[] uv = u.toDoubleArray();
        double[] pv = projection.toDoubleArray();
        int n = gv.length;
        for (int i = 0; i < n; i++) {
            double sg = 1 / (1 + Math.exp(-gv[i]));
            double su = 1 / (1 + Math.exp(-uv[i]));
            assertEquals(gv[i] * sg * uv[i], fused[i], 1e-12, "silu(g)·u");
            assertEquals(uv[i] * su, fused[n + i], 1e-12, "silu(u)");
            assertEquals(pv[i] * uv[i] * sg * (1 + gv[i] * (1 - sg)), fused[2 * n + i], 1e-12, "d/dg");
            double du = pv[i] * gv[i] * sg + 0.5 * pv[i] * su * (1 + uv[i] * (1 - su));
            assertEquals(du, fused[3 * n + i], 1e-12, "d/du");
        }
    }

    @Test
    void fusedAdamWAndClipEqualTheComposedOnesWithLrGroupsDecayAndUntouchedParameters() {
        assertNotNull(ScriptKernels.adamW(), "libtorch 2.7.1 has _fused_adamw_");
        double[][] composed = with(false, this::threeSteps);
        double[][] fused = with(true, this::threeSteps);
        assertEquals(composed.length, fused.length);
        for (int i = 0; i < composed.length; i++) {
            assertArrayEquals(composed[i], fused[i], 1e-12, "tensor " + i);
        }
        // the global gradient norms (fused: one _foreach_norm call) agree, and every step was clipped
        for (double norm : fused[8]) {
            assertTrue(norm > 1, "clipped: " + norm);
        }
        // the parameter no gradient reached is unchanged, its moments still zero
        assertArrayEquals(new double[] {0.5, -0.5}, fused[3], 0);
        assertArrayEquals(new double[2], fused[7], 0);
    }

    /** Three AdamW steps (LR 0.01, decay 0.1) on a matrix, a vector, a matrix at ×0.5 LR and an unused vector. */
    private double[][] threeSteps() {
        try (ParamStore p = new ParamStore(m, DataType.FLOAT64)) {
            NDArray w = p.put("w", m.create(new double[] {1, -2, 3, 0.5, 0.25, -1}, new Shape(2, 3)));
            NDArray b = p.put("b", m.create(new double[] {0.1, -0.3, 0.2}, new Shape(3)));
            NDArray slow = p.put("slow.w", m.create(new double[] {2, -1, 0.5, 1.5}, new Shape(2, 2)));
            p.put("unused", m.create(new double[] {0.5, -0.5}, new Shape(2)));
            p.enableGradients();
            NDArray x = m.create(new double[] {0.3, -1.2, 0.7}, new Shape(3));
            try (AdamW opt = new AdamW(p, 0.9, 0.95, 1e-8)) {
                opt.scaleLr("slow.", 0.5);
                double[] norms = new double[3];
                for (int s = 0; s < 3; s++) {
                    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                        NDArray y = w.matMul(x.add(b)); // (2)
                        gc.backward(slow.matMul(y).square().sum().add(y.sum()));
                    }
                    norms[s] = opt.clipGlobalNorm(1.0);
                    assertTrue(opt.step(0.01, 0.1));
                }
                double[][] out = new double[9][];
                out[8] = norms;
                int i = 0;
                for (String name : new String[] {"w", "b", "slow.w", "unused"}) {
                    out[i++] = p.get(name).toDoubleArray();
                }
                for (String name : new String[] {"w", "b", "slow.w", "unused"}) {
                    out[i++] = opt.state().get("v." + name).toDoubleArray();
                }
                return out;
            }
        }
    }
}
