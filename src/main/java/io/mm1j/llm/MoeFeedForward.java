package io.mm1j.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.MoeConfig;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import java.util.Arrays;

/**
 * Mixture-of-experts SwiGLU feed-forward with top-k routing (MM1 §3.3: top-2, load-balancing loss 0.01, router
 * z-loss 0.001). Tensor names follow Mixtral in transformers: {@code block_sparse_moe.gate.weight (E, D)} and the
 * experts stacked as {@code block_sparse_moe.experts.w1.weight (E, F, D)} (gate), {@code w3 (E, F, D)} (up),
 * {@code w2 (E, D, F)} (down); {@code HfLlama} splits them into per-expert tensors on export.
 *
 * <p>Dispatch is fully batched: routing decisions (discrete) are turned into index arrays in Java, tokens are
 * gathered into an (E, C, D) block (C = the busiest expert's load, so no token is dropped unless a capacity factor
 * is set), the experts run as three batched matmuls, and each token gathers back its k outputs weighted by its
 * renormalised gate probabilities. Gradients flow through the gathers and the gate probabilities.
 */
public final class MoeFeedForward {
    private MoeFeedForward() {}

    /** Names of one MoE layer's tensors. */
    public static String prefix(int layer) {
        return "model.layers." + layer + ".block_sparse_moe.";
    }

    /** Creates a layer's router and stacked experts with random init. */
    public static void init(ParamStore p, LlmConfig c, int layer, double std, double outStd) {
        MoeConfig m = c.moe();
        long e = m.numExperts();
        long d = c.hiddenSize();
        long f = c.expertIntermediate();
        String pre = prefix(layer);
        p.normal(pre + "gate.weight", new Shape(e, d), std);
        p.normal(pre + "experts.w1.weight", new Shape(e, f, d), std);
        p.normal(pre + "experts.w3.weight", new Shape(e, f, d), std);
        p.normal(pre + "experts.w2.weight", new Shape(e, d, f), outStd);
    }

    /**
     * Result of one MoE layer: output (same shape as the input), the weighted auxiliary loss (scalar, part of the
     * objective), the expert load (token assignments per expert, real tokens only) and the unweighted router losses.
     */
    public record Output(NDArray y, NDArray auxLoss, int[] expertLoad, RouterLosses routerLosses) {}

    /**
     * A layer's router losses as read back after the forward, unweighted: the load-balancing loss
     * E·Σ_e f_e·P_e (1 when perfectly balanced) and the z-loss mean(logsumexp(logits)²). The objective adds
     * {@code balanceCoef·balance + zLossCoef·z} (MM1: 0.01 and 0.001).
     */
    public record RouterLosses(double balance, double z) {}

    /**
     * @param x (B, T, D)
     * @return y (B, T, D), aux = balanceCoef·L_balance + zLossCoef·L_z
     */
    public static Output forward(ParamStore p, LlmConfig c, int layer, NDArray x) {
        return forward(p, c, layer, x, null);
    }

    /**
     * @param x    (B, T, D)
     * @param keep B·T flags (row-major), 1 for real tokens and 0 for padding, or null when nothing is padded.
     *             Padding is not dispatched (its output is 0) and counts neither in the expert load nor in the
     *             auxiliary losses, so a padded batch routes exactly like the same tokens unpadded.
     */
    public static Output forward(ParamStore p, LlmConfig c, int layer, NDArray x, float[] keep) {
        MoeConfig m = c.moe();
        String pre = prefix(layer);
        Shape xs = x.getShape();
        int d = c.hiddenSize();
        int n = Math.toIntExact(xs.size() / d);
        int e = m.numExperts();
        int k = m.topK();
        NDManager mgr = x.getManager();

        NDArray xf = x.reshape(n, d); // (N, D)
        NDArray logits = Ops.linear(xf, p.get(pre + "gate.weight")); // (N, E)
        NDArray probs = logits.softmax(-1); // (N, E)

        // Discrete routing in Java: top-k experts per token (ties → lower expert index).
        float[] pr = probs.toType(DataType.FLOAT32, false).toFloatArray();
        int[][] top = new int[n][k];
        int[] load = new int[e];
        int kept = 0;
        for (int t = 0; t < n; t++) {
            topK(pr, t * e, e, top[t]);
            if (keep != null && keep[t] == 0) {
                continue;
            }
            kept++;
            for (int j = 0; j < k; j++) {
                load[top[t][j]]++;
            }
        }
        kept = Math.max(kept, 1);
        int capacity = Arrays.stream(load).max().orElse(0);
        if (m.capacityFactor() > 0) {
            capacity = Math.min(capacity, (int) Math.ceil(m.capacityFactor() * kept * k / e));
        }
        capacity = Math.max(capacity, 1);
        long[] tokenOf = new long[e * capacity]; // slot (e, c) → token index, or n (the zero row)
        Arrays.fill(tokenOf, n);
        long[] slotOf = new long[n * k]; // (token, j) → e·C + c, or e·C (the zero row) when dropped
        long[] topIds = new long[n * k];
        int[] fill = new int[e];
        for (int t = 0; t < n; t++) {
            boolean real = keep == null || keep[t] != 0;
            for (int j = 0; j < k; j++) {
                int ex = top[t][j];
                topIds[t * k + j] = ex;
                if (real && fill[ex] < capacity) {
                    tokenOf[ex * capacity + fill[ex]] = t;
                    slotOf[t * k + j] = (long) ex * capacity + fill[ex];
                    fill[ex]++;
                } else {
                    slotOf[t * k + j] = (long) e * capacity;
                }
            }
        }

        NDArray topIdx = mgr.create(topIds, new Shape(n, k));
        NDArray topP = probs.gather(topIdx, 1); // (N, k)
        NDArray gates = topP.div(topP.sum(new int[] {-1}, true)); // renormalised over the chosen k

        NDArray zeroRow = mgr.zeros(new Shape(1, d), x.getDataType());
        NDArray xPad = xf.concat(zeroRow, 0); // (N+1, D)
        NDArray xe = Ops.rows(xPad, mgr.create(tokenOf, new Shape(e, capacity))); // (E, C, D)
        NDArray w1 = p.get(pre + "experts.w1.weight"); // (E, F, D)
        NDArray w3 = p.get(pre + "experts.w3.weight");
        NDArray w2 = p.get(pre + "experts.w2.weight"); // (E, D, F)
        NDArray h = Ops.siluMul(xe.matMul(w1.transpose(0, 2, 1)), xe.matMul(w3.transpose(0, 2, 1))); // (E, C, F)
        NDArray ye = h.matMul(w2.transpose(0, 2, 1)); // (E, C, D)
        NDArray yPad = ye.reshape((long) e * capacity, d).concat(zeroRow, 0); // (E·C+1, D)
        NDArray picked = Ops.rows(yPad, mgr.create(slotOf, new Shape(n, k))); // (N, k, D)
        NDArray y = picked.mul(gates.expandDims(-1)).sum(new int[] {1}).reshape(xs); // (B, T, D)

        // Load balancing (Switch/GShard): E · Σ_e f_e · P_e with f_e the fraction of routed assignments to e.
        double[] frac = new double[e];
        for (int i = 0; i < e; i++) {
            frac[i] = load[i] / (double) (kept * k);
        }
        NDArray fConst = mgr.create(frac).toType(x.getDataType(), false);
        NDArray keepCol = keep == null ? null : mgr.create(keep).toType(x.getDataType(), false); // (N)
        NDArray invKept = mgr.create(1.0 / kept).toType(x.getDataType(), false);
        NDArray meanProbs = keepCol == null ? probs.mean(new int[] {0})
                : probs.mul(keepCol.expandDims(1)).sum(new int[] {0}).mul(invKept); // (E), over real tokens
        NDArray balance = meanProbs.mul(fConst).sum().mul(p.scalar(e));
        // Router z-loss (ST-MoE): mean over real tokens of logsumexp(logits)².
        NDArray max = logits.max(new int[] {-1}, true).stopGradient();
        NDArray lse = logits.sub(max).exp().sum(new int[] {-1}).log().add(max.squeeze(-1));
        NDArray zLoss = keepCol == null ? lse.square().mean() : lse.square().mul(keepCol).sum().mul(invKept);
        NDArray aux = balance.mul(p.scalar(m.balanceCoef())).add(zLoss.mul(p.scalar(m.zLossCoef())));
        RouterLosses losses = new RouterLosses(balance.toType(DataType.FLOAT64, false).getDouble(),
                zLoss.toType(DataType.FLOAT64, false).getDouble());
        return new Output(y, aux, load, losses);
    }

    /** Indices of the k largest values of row {@code p[off .. off+len)}, largest first. */
    static void topK(float[] p, int off, int len, int[] out) {
        int k = out.length;
        Arrays.fill(out, -1);
        for (int i = 0; i < len; i++) {
            float v = p[off + i];
            int pos = k;
            while (pos > 0 && (out[pos - 1] < 0 || v > p[off + out[pos - 1]])) {
                pos--;
            }
            if (pos < k) {
                System.arraycopy(out, pos, out, pos + 1, k - pos - 1);
                out[pos] = i;
            }
        }
    }

    /**
     * Upcycling (dense → MoE): every expert starts as a copy of the dense SwiGLU weights of the same layer; the
     * router starts random. The MoE layer then computes exactly the dense FFN at step 0 (gates sum to 1).
     */
    public static void upcycle(ParamStore p, LlmConfig c, int layer, NDArray gate, NDArray up, NDArray down,
                               double routerStd) {
        int e = c.moe().numExperts();
        String pre = prefix(layer);
        p.normal(pre + "gate.weight", new Shape(e, c.hiddenSize()), routerStd);
        p.put(pre + "experts.w1.weight", gate.expandDims(0).repeat(0, e));
        p.put(pre + "experts.w3.weight", up.expandDims(0).repeat(0, e));
        p.put(pre + "experts.w2.weight", down.expandDims(0).repeat(0, e));
    }
}
