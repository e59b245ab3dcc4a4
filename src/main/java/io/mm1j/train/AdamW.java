package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.ScriptKernels;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW with decoupled weight decay (Loshchilov &amp; Hutter; MM1 §3.3 pre-training optimiser) and global-norm
 * gradient clipping (DJL's optClipGrad clips element values: cookbook pitfall 5).
 *
 * <p>Weight decay applies to matrices only (2-D and up); norms and other vectors are not decayed. Gradients are
 * read from the parameters, used, and zeroed in place after each step (the collector does not zero them).
 */
public final class AdamW implements Optimizer {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AdamW.class);
    private final ParamStore params;
    private final NDManager manager;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private final Map<String, Double> lrScale = new LinkedHashMap<>(); // parameter name → LR multiplier
    private long step;
    private double[] squares; // per-parameter squared gradient norms of the current step, or null

    public AdamW(ParamStore params, double beta1, double beta2, double eps) {
        this.params = params;
        this.manager = params.manager().newSubManager();
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        params.all().forEach((name, p) -> {
            if (params.isTrainable(name)) {
                NDArray mi = manager.zeros(p.getShape(), p.getDataType());
                NDArray vi = manager.zeros(p.getShape(), p.getDataType());
                NDScope.unregister(mi, vi);
                m.put(name, mi);
                v.put(name, vi);
            }
        });
    }

    /** Adam's defaults as in MM1-era LLM training: β = (0.9, 0.95), ε = 1e-8. */
    public static AdamW standard(ParamStore params) {
        return new AdamW(params, 0.9, 0.95, 1e-8);
    }

    /** Squared gradient norm of every trainable parameter ({@link GlobalNorm#squares}). */
    private double[] gradientSquares() {
        return GlobalNorm.squares(params, m.keySet());
    }

    /** Scales all gradients so that their global L2 norm is at most {@code maxNorm}; returns the norm before. */
    @Override
    public double clipGlobalNorm(double maxNorm) {
        squares = gradientSquares();
        return GlobalNorm.clip(params, m.keySet(), squares, maxNorm);
    }

    /**
     * One update with learning rate {@code lr} and decoupled weight decay {@code weightDecay}; zeroes grads.
     *
     * <p>Weight decay follows PyTorch's AdamW: {@code p ← p·(1 − lr·weightDecay)}, i.e. it is scaled by the
     * current learning rate. MM1's law states λ = 0.1·η as the decoupled per-step decay at peak (AXLearn scales
     * it by the schedule, not by η again), which in this convention is {@code weightDecay = λ/η = 0.1}; see
     * {@link LrLaw#torchWeightDecay}.
     *
     * <p>A step whose gradient norm is not finite (NaN/Inf from an overflow or an empty loss mask) is skipped
     * with a warning instead of writing NaN into every parameter.
     *
     * @return false when the step was skipped
     */
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
        if (fusedStep(lr, weightDecay)) {
            zeroGrad();
            params.touch();
            return true;
        }
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        double stepSize = lr * Math.sqrt(bc2) / bc1;
        double epsHat = eps * Math.sqrt(bc2);
        int i = 0;
        for (Map.Entry<String, NDArray> e : m.entrySet()) {
            // one scope per parameter: the update's temporaries (≈ 4× the parameter) are freed before the next
            // parameter, so the step's peak is set by the largest parameter, not by all of them together
            try (NDScope scope = new NDScope()) {
                String name = e.getKey();
                NDArray p = params.get(name);
                if (squares[i++] == 0) {
                    continue; // no gradient reached this parameter: leave it and its moments alone
                }
                NDArray g = p.getGradient();
                NDArray mi = e.getValue();
                NDArray vi = v.get(name);
                mi.muli(beta1).addi(g.mul(1 - beta1));
                vi.muli(beta2).addi(g.square().muli(1 - beta2));
                double scale = lrScale.getOrDefault(name, 1.0);
                if (weightDecay > 0 && p.getShape().dimension() >= 2) {
                    p.muli(1 - lr * scale * weightDecay);
                }
                p.subi(mi.div(vi.sqrt().addi(epsHat)).muli(stepSize * scale));
                scope.suppressNotUsedWarning();
            }
        }
        zeroGrad();
        params.touch();
        return true;
    }

    /**
     * The same update by libtorch's fused AdamW ({@link ScriptKernels}), one call per group of tensors that share an
     * LR multiplier, decay and dtype: a single pass over each tensor instead of about ten element-wise ops, with
     * the same rule in PyTorch's arrangement ({@code m̂/(√v̂ + ε)}; the composed form below uses the equivalent
     * {@code step·m/(√v + ε̂)}). Measured on {@code mini}'s 4.2M parameters: 9 ms instead of 43 ms.
     *
     * @return false when the fused kernel is unavailable (nothing was changed)
     */
    private boolean fusedStep(double lr, double weightDecay) {
        if (ScriptKernels.adamW() == null) {
            return false;
        }
        record Group(double scale, boolean decay, DataType type) {}
        Map<Group, List<String>> groups = new LinkedHashMap<>();
        int i = 0;
        for (Map.Entry<String, NDArray> e : m.entrySet()) {
            NDArray p = params.get(e.getKey());
            if (squares[i++] == 0) {
                continue; // no gradient reached this parameter: leave it and its moments alone
            }
            boolean decay = weightDecay > 0 && p.getShape().dimension() >= 2;
            groups.computeIfAbsent(new Group(lrScale.getOrDefault(e.getKey(), 1.0), decay, p.getDataType()),
                    g -> new ArrayList<>()).add(e.getKey());
        }
        try (NDScope scope = new NDScope()) {
            NDArray count = manager.create((float) step); // read by the kernel for the bias corrections
            for (Map.Entry<Group, List<String>> g : groups.entrySet()) {
                List<NDArray> ps = new ArrayList<>();
                List<NDArray> gs = new ArrayList<>();
                List<NDArray> ms = new ArrayList<>();
                List<NDArray> vs = new ArrayList<>();
                for (String name : g.getValue()) {
                    NDArray p = params.get(name);
                    ps.add(p);
                    gs.add(p.getGradient());
                    ms.add(m.get(name));
                    vs.add(v.get(name));
                }
                double groupLr = lr * g.getKey().scale();
                if (!ScriptKernels.adamW(ps, gs, ms, vs, count, groupLr, beta1, beta2,
                        g.getKey().decay() ? weightDecay : 0, eps)) {
                    throw new IllegalStateException("the fused AdamW kernel was loaded but did not run");
                }
            }
            scope.suppressNotUsedWarning();
        }
        return true;
    }

    /**
     * Multiplies the learning rate of every parameter whose name starts with {@code prefix} by {@code factor}
     * (per-component LR groups, e.g. a smaller LR for a pretrained encoder; nanoVLM-style). Later calls win.
     */
    @Override
    public void scaleLr(String prefix, double factor) {
        Optimizer.scaleLr(lrScale, m.keySet(), prefix, factor);
    }

    /** First and second moments by parameter name ("m." / "v." + name), for checkpoints. */
    @Override
    public Map<String, NDArray> state() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        m.forEach((k, a) -> out.put("m." + k, a));
        v.forEach((k, a) -> out.put("v." + k, a));
        return out;
    }

    /**
     * Restores moments and the step count from a checkpoint; every trainable parameter's moments must be present
     * with its shape (a checkpoint of another model is refused, naming the tensor).
     *
     * @param lookup tensor name → values (float32, row-major) or null when missing
     * @param where  the file, for messages
     */
    @Override
    public void load(java.util.function.Function<String, float[]> lookup, long stepCount, String where) {
        for (Map<String, NDArray> moments : List.of(m, v)) {
            String kind = moments == m ? "m." : "v.";
            for (Map.Entry<String, NDArray> e : moments.entrySet()) {
                float[] data = lookup.apply(kind + e.getKey());
                if (data == null) {
                    throw new io.mm1j.Mm1Exception(where + ": optimizer state for '" + e.getKey() + "' is missing");
                }
                if (data.length != e.getValue().getShape().size()) {
                    throw new io.mm1j.Mm1Exception(where + ": optimizer state '" + kind + e.getKey() + "' has "
                            + data.length + " values, the parameter " + e.getValue().getShape());
                }
                Checkpoint.checkFinite(data, where, kind + e.getKey(), moments == v);
                NDArray src = manager.create(data, e.getValue().getShape()).toType(e.getValue().getDataType(), false);
                // in place (the array stays owned by the optimizer); set(Buffer) would make libtorch warn
                e.getValue().set(new ai.djl.ndarray.index.NDIndex("..."), src);
                src.close();
            }
        }
        step = stepCount;
    }

    /** Zeroes all gradients without updating (e.g. after a skipped step). */
    @Override
    public void zeroGrad() {
        squares = null;
        for (String name : m.keySet()) {
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
        for (NDArray a : m.values()) {
            n += a.size();
        }
        return n;
    }

    @Override
    public void close() {
        manager.close();
    }
}
