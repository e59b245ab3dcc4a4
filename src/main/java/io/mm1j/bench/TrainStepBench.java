package io.mm1j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.MemoryModel;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.ParamCount;
import io.mm1j.llm.Decoder;
import io.mm1j.nn.MemoryProbe;
import io.mm1j.nn.NativeAllocator;
import io.mm1j.train.AdamW;
import io.mm1j.train.ActivationCheckpointing;
import io.mm1j.train.Losses;

/**
 * One LLM training step (forward + backward + global-norm clip + AdamW) on random tokens; reports tokens/s,
 * achieved GFLOP/s and MFU = model FLOP/s ÷ sgemm FLOP/s, the sgemm (2048³) timed right after each step and the
 * MFU the median of the per-step ratios (a shared host's speed drifts by 2× between minutes; paired figures
 * cancel most of it).
 *
 * <p>Model FLOPs per token (PaLM appendix B): 6·N_matmul + 12·L·T·d_attn, with N_matmul the parameters that take
 * part in matmuls (all non-embedding weights plus the LM head).
 */
public final class TrainStepBench {
    private TrainStepBench() {}

    /** One recorded forward + backward of CE (+ MoE auxiliary loss), as {@code LmStep} does; returns the CE. */
    private static double plainGradients(Decoder d, NDArray in, NDArray target) {
        try (NDScope scope = new NDScope(); GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            Decoder.Hidden out = d.hidden(d.embed(in), null, null, null);
            Losses.TokenLoss ce = Losses.headLoss(d, out.h(), target, null, 1.0 / target.getShape().size());
            gc.backward(out.auxLoss() == null ? ce.objective() : ce.objective().add(out.auxLoss()));
            scope.suppressNotUsedWarning();
            return ce.nll().toType(DataType.FLOAT64, false).mean().getDouble();
        }
    }

    /**
     * Seconds the model's dense linear layers alone take for one training step at {@code tokens} tokens: for each
     * weight shape, the forward product and the two backward products (input and weight gradients), the fastest
     * of three runs, times how often the shape occurs (every layer's q, k, v, o, gate, up, down and the LM head).
     * Their FLOPs over this time, divided by the 2048³ sgemm rate, bound the MFU that any ordering of the other
     * work could reach with these GEMM shapes ({@code mfuCeiling}).
     *
     * @return {seconds, flops}
     */
    static double[] linearSeconds(NDManager root, LlmConfig c, int tokens) {
        long d = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long f = c.intermediateSize();
        int l = c.numLayers();
        long[][] shapes = { // out, in, occurrences
            {q, d, l}, {kv, d, 2L * l}, {d, q, l}, {f, d, 2L * l}, {d, f, l}, {c.vocabSize(), d, 1}};
        double seconds = 0;
        double flops = 0;
        for (long[] s : shapes) {
            try (NDManager m = root.newSubManager()) {
                NDArray x = m.randomNormal(new Shape(tokens, s[1]), DataType.FLOAT32);
                NDArray w = m.randomNormal(new Shape(s[0], s[1]), DataType.FLOAT32);
                NDArray g = m.randomNormal(new Shape(tokens, s[0]), DataType.FLOAT32);
                double best = Double.MAX_VALUE;
                for (int rep = 0; rep < 4; rep++) { // the first is a warm-up
                    long t0 = System.nanoTime();
                    try (NDScope scope = new NDScope()) { // the products are freed before the next run
                        io.mm1j.nn.Ops.linear(x, w).getFloat(0, 0);
                        g.matMul(w).getFloat(0, 0); // the input's gradient
                        g.transpose().matMul(x).getFloat(0, 0); // the weight's gradient
                        scope.suppressNotUsedWarning();
                    }
                    double t = (System.nanoTime() - t0) / 1e9;
                    if (rep > 0) {
                        best = Math.min(best, t);
                    }
                }
                seconds += s[2] * best;
                flops += s[2] * 6.0 * tokens * s[0] * s[1];
            }
        }
        return new double[] {seconds, flops};
    }

    public static ObjectNode run(NDManager root, LlmConfig c, String preset, int batch, int seq, int steps) {
        return run(root, c, preset, batch, seq, steps, false);
    }

    /**
     * @param checkpointing compute gradients with {@link ActivationCheckpointing} instead of one recorded
     *                      forward + backward
     */
    public static ObjectNode run(NDManager root, LlmConfig c, String preset, int batch, int seq, int steps,
                                 boolean checkpointing) {
        GemmBench.gflops(root, 2048, 1); // warm-up; the roofline is measured beside every timed step below
        Decoder d = Decoder.init(c, root, DataType.FLOAT32);
        d.params().enableGradients();
        long mmapThreshold = NativeAllocator.threshold(); // MM1_MMAP_THRESHOLD, applied at start-up
        double[] times = new double[steps];
        double[] gemms = new double[steps];
        long[] faults = new long[steps];
        double lastLoss = 0;
        long ndBytes;
        long activationPeak = -1;
        try (AdamW opt = AdamW.standard(d.params())) {
            for (int s = -2; s < steps; s++) { // two warm-up steps
                long t0 = System.nanoTime();
                long f0 = NativeAllocator.minorFaults();
                try (NDScope scope = new NDScope()) {
                    NDArray tokens = root.randomInteger(0, c.vocabSize(), new Shape(batch, seq + 1), DataType.INT64);
                    NDArray in = tokens.get(":, :-1");
                    NDArray target = tokens.get(":, 1:");
                    // the last step measures its forward + backward alone: state allocated, allocator trimmed
                    boolean measure = s == steps - 1 && PeakRss.resetPeak();
                    long before = measure ? PeakRss.currentBytes() : -1;
                    lastLoss = checkpointing ? ActivationCheckpointing.lmGradients(d, in, null, target, null).loss()
                            : plainGradients(d, in, target);
                    if (measure && before > 0) {
                        activationPeak = PeakRss.peakBytes() - before;
                    }
                    opt.clipGlobalNorm(1.0);
                    opt.step(1e-4, 0.1);
                    scope.suppressNotUsedWarning();
                }
                if (s >= 0) {
                    times[s] = (System.nanoTime() - t0) / 1e9;
                    faults[s] = NativeAllocator.minorFaults() - f0;
                    // sgemm right after the step: on a shared host both see the same neighbours, so their ratio
                    // (the MFU) is steadier than either figure alone
                    gemms[s] = GemmBench.gflops(root, 2048, 1);
                }
            }
            ndBytes = MemoryProbe.liveBytes(root); // weights, gradients and AdamW moments between steps
        } finally {
            d.close();
        }
        ParamCount.Llm pc = ParamCount.llm(c);
        double flopsPerToken = ParamCount.trainFlopsPerToken(c, seq);
        double tokens = (double) batch * seq;
        double[] mfus = new double[steps];
        for (int s = 0; s < steps; s++) {
            mfus[s] = flopsPerToken * tokens / times[s] / 1e9 / gemms[s];
        }
        java.util.Arrays.sort(times);
        java.util.Arrays.sort(faults);
        java.util.Arrays.sort(gemms);
        java.util.Arrays.sort(mfus);
        double sec = times[steps / 2];
        double gemm = gemms[steps / 2];
        double gflops = flopsPerToken * tokens / sec / 1e9;
        ObjectNode o = Bench.report("train-step");
        o.put("preset", preset);
        o.put("batch", batch);
        o.put("seq", seq);
        o.put("params", pc.total());
        o.put("secondsPerStep", sec);
        o.put("tokensPerSecond", tokens / sec);
        o.put("gflops", gflops);
        o.put("gemmGflops", gemm);
        o.put("mfu", mfus[steps / 2]); // median over steps of step FLOP/s ÷ the sgemm measured right after it
        o.put("mfuMin", mfus[0]);
        o.put("mfuMax", mfus[steps - 1]);
        // the fastest step over the fastest sgemm: each at its least disturbed moment (noise only slows)
        o.put("mfuBest", flopsPerToken * tokens / times[0] / 1e9 / gemms[steps - 1]);
        if (c.moe() == null) { // experts see varying token counts: no single set of shapes
            double[] lin = linearSeconds(root, c, batch * seq);
            double linGflops = lin[1] / lin[0] / 1e9;
            o.put("linearGflops", linGflops); // the dense layers' GEMMs alone, at this step's shapes
            o.put("mfuCeiling", linGflops / gemm);
        }
        o.put("loss", lastLoss);
        o.put("activationCheckpointing", checkpointing);
        o.put("layers", c.numLayers());
        // the allocator's fixed mmap threshold (-1: glibc's dynamic default) and the page faults a step costs
        o.put("mmapThresholdBytes", mmapThreshold);
        o.put("allocatorPolicy", NativeAllocator.policy()); // reuse (default), fixed (MM1_MMAP_THRESHOLD) or default
        io.mm1j.nn.ScriptKernels.status().forEach((k, v) -> o.put("kernel/" + k, v)); // fused or composed
        o.put("minorFaultsPerStep", faults[steps / 2]);
        // MemoryModel's prediction for this run, to set beside the measured peakRssBytes
        MemoryModel.Estimate est = MemoryModel.training(c, pc.total(), batch, seq, 4, checkpointing);
        o.put("predictedActivationBytes", est.activations());
        // resident memory the last step's forward + backward added at its fullest (-1: no procfs)
        o.put("measuredActivationBytes", activationPeak);
        o.put("predictedPeakRssBytes", est.peak());
        o.put("ndArrayBytes", ndBytes);
        return PeakRss.addTo(o);
    }
}
