package io.mm1j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mm1j.ManagedNdTest;
import io.mm1j.TestSupport;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.MoeConfig;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.MoeFeedForward;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Finite differences (float64) vs autograd for every block the decoder is built from. */
class GradientCheckTest extends ManagedNdTest {
    private static final double TOL = 1e-6;

    private NDArray rand(long... shape) {
        return m.randomNormal(0, 1, new Shape(shape), DataType.FLOAT64);
    }

    /** A scalar that depends on every output element differently: sum(out ⊙ R). */
    private Supplier<NDArray> projected(Supplier<NDArray> out, NDArray r) {
        return () -> out.get().mul(r).sum();
    }

    private static void check(String what, NDArray p, Supplier<NDArray> loss) {
        double err = GradCheck.maxRelativeError(p, loss, 12, 42);
        assertTrue(err < TOL, what + ": max relative error " + err);
    }

    @Test
    void rmsNorm() {
        NDArray x = rand(2, 3, 8);
        NDArray w = rand(8);
        NDArray eps = m.create(1e-5);
        NDArray minusHalf = m.create(-0.5);
        NDArray invDim = m.create(1.0 / 8);
        Supplier<NDArray> loss = projected(() -> Ops.rmsNorm(x, w, eps, minusHalf, invDim), rand(2, 3, 8));
        check("rmsnorm dx", x, loss);
        check("rmsnorm dw", w, loss);
        // values against the definition x / √(mean x² + eps) · w
        double[] xs = x.toDoubleArray();
        double[] ws = w.toDoubleArray();
        double[] ys = Ops.rmsNorm(x, w, eps, minusHalf, invDim).toDoubleArray();
        for (int row = 0; row < 6; row++) {
            double sq = 0;
            for (int j = 0; j < 8; j++) {
                sq += xs[row * 8 + j] * xs[row * 8 + j];
            }
            double r = 1 / Math.sqrt(sq / 8 + 1e-5);
            for (int j = 0; j < 8; j++) {
                assertEquals(xs[row * 8 + j] * r * ws[j], ys[row * 8 + j], 1e-12);
            }
        }
        // a zero row (the norm's own gradient is 0/0 there): d/dx = eps^-½ · w, finite
        NDArray zero = m.zeros(new Shape(1, 8), DataType.FLOAT64);
        zero.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            gc.backward(Ops.rmsNorm(zero, w, eps, minusHalf, invDim).sum());
            double[] g = zero.getGradient().toDoubleArray();
            for (int j = 0; j < 8; j++) {
                assertEquals(ws[j] / Math.sqrt(1e-5), g[j], 1e-9);
            }
        }
    }

    @Test
    void rope() {
        Rope rope = new Rope(m, 8, 16, 10000.0, DataType.FLOAT64);
        NDArray x = rand(1, 2, 5, 8);
        check("rope dx", x, projected(() -> rope.apply(x, 3), rand(1, 2, 5, 8)));
    }

    @Test
    void causalGroupedQueryAttention() {
        Attention att = new Attention(m);
        NDArray q = rand(2, 4, 5, 8); // 4 query heads
        NDArray k = rand(2, 2, 5, 8); // 2 KV heads
        NDArray v = rand(2, 2, 5, 8);
        NDArray scale = m.create(1 / Math.sqrt(8));
        NDArray mask = att.causal(5, 5, 0, DataType.FLOAT64);
        Supplier<NDArray> loss = projected(() -> Attention.attend(q, k, v, mask, scale), rand(2, 4, 5, 8));
        check("attention dq", q, loss);
        check("attention dk", k, loss);
        check("attention dv", v, loss);
    }

    @Test
    void swiGlu() {
        NDArray x = rand(3, 6);
        NDArray gate = rand(10, 6);
        NDArray up = rand(10, 6);
        NDArray down = rand(6, 10);
        Supplier<NDArray> loss = projected(() -> Ops.swiGlu(x, gate, up, down), rand(3, 6));
        check("swiglu dx", x, loss);
        check("swiglu dgate", gate, loss);
        check("swiglu dup", up, loss);
        check("swiglu ddown", down, loss);
    }

    @Test
    void mixtureOfExpertsIncludingAuxiliaryLosses() {
        TestSupport.root().getEngine().setRandomSeed(2025); // see wholeDecoderWithGqaAndMoe
        LlmConfig c = LlmConfig.llama(32, 8, 12, 1, 2, 1, 16, false).withMoe(new MoeConfig(4, 2, 1, 0, 0.01, 0.001, 0));
        try (ParamStore p = new ParamStore(m, DataType.FLOAT64)) {
            MoeFeedForward.init(p, c, 0, 0.5, 0.5);
            NDArray x = rand(2, 5, 8);
            NDArray r = rand(2, 5, 8);
            Supplier<NDArray> loss = () -> {
                MoeFeedForward.Output o = MoeFeedForward.forward(p, c, 0, x);
                return o.y().mul(r).sum().add(o.auxLoss().mul(p.scalar(100)));
            };
            String pre = MoeFeedForward.prefix(0);
            check("moe dx", x, loss);
            check("moe drouter", p.get(pre + "gate.weight"), loss);
            check("moe dw1", p.get(pre + "experts.w1.weight"), loss);
            check("moe dw2", p.get(pre + "experts.w2.weight"), loss);
            check("moe dw3", p.get(pre + "experts.w3.weight"), loss);
        }
    }

    @Test
    void wholeDecoderWithGqaAndMoe() {
        // Fixed seed: routing is discrete, so the check needs an init without near-ties in the router (a finite
        // difference across a top-k switch measures the switch, not the gradient); the suite's order must not matter.
        TestSupport.root().getEngine().setRandomSeed(2024);
        LlmConfig c = LlmConfig.llama(20, 16, 24, 2, 4, 2, 16, false)
                .withMoe(new MoeConfig(3, 2, 2, 0, 0.01, 0.001, 0));
        try (Decoder d = Decoder.init(c, m, DataType.FLOAT64)) {
            NDArray ids = m.create(new long[] {1, 5, 7, 3, 9, 2}, new Shape(2, 3));
            NDArray r = rand(2, 3, 20);
            Supplier<NDArray> loss = () -> {
                Decoder.Output o = d.forward(ids);
                return o.logits().mul(r).sum().add(o.auxLoss());
            };
            check("decoder dembed", d.params().get(Decoder.EMBED), loss);
            check("decoder dq", d.params().get("model.layers.0.self_attn.q_proj.weight"), loss);
            check("decoder dexperts", d.params().get("model.layers.1.block_sparse_moe.experts.w1.weight"), loss);
            check("decoder dnorm", d.params().get(Decoder.NORM), loss);
        }
    }
}
