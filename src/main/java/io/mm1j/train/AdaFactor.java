package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.mm1j.Mm1Exception;
import io.mm1j.nn.ParamStore;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * AdaFactor (Shazeer &amp; Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost"), MM1's SFT
 * optimiser (MM1_SPEC.md §3), with the configured learning rate: relative step and parameter scaling off, as
 * {@code transformers.Adafactor(lr=…, relative_step=False, scale_parameter=False, warmup_init=False)}.
 *
 * <p>Per step t and parameter with gradient G (Algorithm 4 of the paper, HF's order):
 * <pre>
 *   β₂ₜ = 1 − t^decay                                   (decay = −0.8)
 *   U  = G² + ε₁                                         (ε₁ = 1e-30)
 *   matrix (≥ 2-D, factored over the last two axes):
 *     R ← β₂ₜ R + (1 − β₂ₜ) mean(U, −1)                 row statistics  (…, n)
 *     C ← β₂ₜ C + (1 − β₂ₜ) mean(U, −2)                 column statistics (…, m)
 *     V̂ = (R / mean(R, −1)) ⊗ C                          rank-1 estimate of E[G²]
 *   vector: V ← β₂ₜ V + (1 − β₂ₜ) U;  V̂ = V
 *   Δ = G / √V̂;   Δ ← Δ / max(1, RMS(Δ) / d)             update clipping (d = 1)
 *   Δ ← lr·Δ;  with β₁: M ← β₁ M + (1 − β₁) Δ, Δ = M    (β₁ off by default, as HF)
 *   p ← p − lr·λ·p (matrices only, as {@link AdamW});   p ← p − Δ
 * </pre>
 * An n×m matrix keeps n + m statistics instead of AdamW's 2·n·m moments — the memory saving that makes it MM1's SFT
 * choice. Like {@link AdamW}, a parameter no gradient reached is skipped, and a non-finite gradient norm skips the
 * step.
 */
public final class AdaFactor implements Optimizer {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AdaFactor.class);

    /** Hyper-parameters (the paper's and HF's defaults in {@link #defaults()}). */
    public record Settings(double decayRate, double eps1, double clipThreshold, double beta1) {
        public Settings {
            if (!(decayRate < 0) || !(eps1 > 0) || !(clipThreshold > 0) || !(beta1 >= 0 && beta1 < 1)) {
                throw new Mm1Exception("optim.adafactor: decay_rate must be < 0, eps1 and clip_threshold > 0, beta1 in "
                        + "[0, 1); got decay_rate " + decayRate + ", eps1 " + eps1 + ", clip_threshold " + clipThreshold
                        + ", beta1 " + beta1);
            }
        }

        /** decay −0.8, ε₁ 1e-30, clipping threshold 1, no first moment. */
        public static Settings defaults() {
            return new Settings(-0.8, 1e-30, 1.0, 0.0);
        }
    }

    private final ParamStore params;
    private final NDManager manager;
    private final Settings s;
    private final Map<String, NDArray> row = new LinkedHashMap<>(); // factored: (…, n)
    private final Map<String, NDArray> col = new LinkedHashMap<>(); // factored: (…, m)
    private final Map<String, NDArray> full = new LinkedHashMap<>(); // vectors: same shape as the parameter
    private final Map<String, NDArray> first = new LinkedHashMap<>(); // β₁ > 0 only
    private final List<String> names;
    private final Map<String, Double> lrScale = new LinkedHashMap<>();
    private long step;
    private double[] squares;

    public AdaFactor(ParamStore params, Settings settings) {
        this.params = params;
        this.manager = params.manager().newSubManager();
        this.s = settings;
        List<String> trainable = new java.util.ArrayList<>();
        params.all().forEach((name, p) -> {
            if (!params.isTrainable(name)) {
                return;
            }
            trainable.add(name);
            Shape sh = p.getShape();
            if (sh.dimension() >= 2) {
                row.put(name, zeros(sh.slice(0, sh.dimension() - 1), p.getDataType()));
                long[] c = sh.getShape().clone();
                long[] cs = new long[c.length - 1];
                System.arraycopy(c, 0, cs, 0, c.length - 2);
                cs[c.length - 2] = c[c.length - 1];
                col.put(name, zeros(new Shape(cs), p.getDataType()));
            } else {
                full.put(name, zeros(sh, p.getDataType()));
            }
            if (s.beta1() > 0) {
                first.put(name, zeros(sh, p.getDataType()));
            }
        });
        this.names = List.copyOf(trainable);
    }

    private NDArray zeros(Shape shape, DataType dt) {
        NDArray a = manager.zeros(shape, dt);
        NDScope.unregister(a);
        return a;
    }

    private double[] gradientSquares() {
        return GlobalNorm.squares(params, names);
    }

    @Override
    public double clipGlobalNorm(double maxNorm) {
        squares = gradientSquares();
        return GlobalNorm.clip(params, names, squares, maxNorm);
    }

    @Override
    public boolean step(double lr, double weightDecay) {
        if (squares == null) {
            squares = gradientSquares();
        }
        if (!GlobalNorm.finite(squares, step + 1, LOG)) {
            zeroGrad();
            return false;
        }
        step++;
        double beta2t = 1 - Math.pow(step, s.decayRate());
        for (int i = 0; i < names.size(); i++) {
            if (squares[i] == 0) {
                continue; // no gradient reached this parameter: leave it and its statistics alone
            }
            String name = names.get(i);
            try (NDScope scope = new NDScope()) { // one parameter's temporaries at a time
                NDArray p = params.get(name);
                NDArray g = p.getGradient();
                NDArray u = g.square().addi(s.eps1()); // G² + ε₁
                NDArray update;
                if (row.containsKey(name)) {
                    NDArray r = row.get(name);
                    NDArray c = col.get(name);
                    r.muli(beta2t).addi(u.mean(new int[] {-1}).muli(1 - beta2t)); // (…, n)
                    c.muli(beta2t).addi(u.mean(new int[] {-2}).muli(1 - beta2t)); // (…, m)
                    NDArray rFactor = r.div(r.mean(new int[] {-1}, true)).sqrt().expandDims(-1); // (…, n, 1)
                    NDArray cFactor = c.sqrt().expandDims(-2); // (…, 1, m)
                    update = g.div(rFactor.mul(cFactor)); // G / √V̂
                } else {
                    NDArray v = full.get(name);
                    v.muli(beta2t).addi(u.muli(1 - beta2t));
                    update = g.div(v.sqrt());
                }
                double rms = Math.sqrt(update.square().mean().toType(DataType.FLOAT64, false).getDouble());
                double scale = lrScale.getOrDefault(name, 1.0);
                double stepLr = lr * scale;
                update.muli(stepLr / Math.max(1.0, rms / s.clipThreshold()));
                if (s.beta1() > 0) {
                    NDArray m = first.get(name);
                    m.muli(s.beta1()).addi(update.muli(1 - s.beta1()));
                    update = m;
                }
                if (weightDecay > 0 && p.getShape().dimension() >= 2) {
                    p.muli(1 - stepLr * weightDecay);
                }
                p.subi(update);
                scope.suppressNotUsedWarning();
            }
        }
        zeroGrad();
        params.touch();
        return true;
    }

    @Override
    public void scaleLr(String prefix, double factor) {
        Optimizer.scaleLr(lrScale, names, prefix, factor);
    }

    /** "row." / "col." (factored), "v." (vectors) and "m." (β₁ &gt; 0) + parameter name. */
    @Override
    public Map<String, NDArray> state() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        row.forEach((k, a) -> out.put("row." + k, a));
        col.forEach((k, a) -> out.put("col." + k, a));
        full.forEach((k, a) -> out.put("v." + k, a));
        first.forEach((k, a) -> out.put("m." + k, a));
        return out;
    }

    @Override
    public void load(Function<String, float[]> lookup, long stepCount, String where) {
        for (Map.Entry<String, NDArray> e : state().entrySet()) {
            float[] data = lookup.apply(e.getKey());
            if (data == null) {
                throw new Mm1Exception(where + ": AdaFactor state '" + e.getKey() + "' is missing");
            }
            if (data.length != e.getValue().getShape().size()) {
                throw new Mm1Exception(where + ": AdaFactor state '" + e.getKey() + "' has " + data.length
                        + " values, expected " + e.getValue().getShape());
            }
            Checkpoint.checkFinite(data, where, e.getKey(), false);
            NDArray src = manager.create(data, e.getValue().getShape()).toType(e.getValue().getDataType(), false);
            e.getValue().set(new ai.djl.ndarray.index.NDIndex("..."), src); // in place, no legacy-mode warning
            src.close();
        }
        step = stepCount;
    }

    @Override
    public void zeroGrad() {
        squares = null;
        for (String name : names) {
            JniUtils.zeroGrad((PtNDArray) params.get(name));
        }
    }

    @Override
    public long stepCount() {
        return step;
    }

    @Override
    public long trainableParameters() {
        long n = 0;
        for (String name : names) {
            n += params.get(name).size();
        }
        return n;
    }

    @Override
    public void close() {
        manager.close();
    }
}
