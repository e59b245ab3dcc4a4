package io.mm1j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.llm.CpuDecoder;
import io.mm1j.llm.Decoder;
import io.mm1j.nn.KvCache;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Prompt processing speed (time to first token without the image encoder): a {@code tokens}-token prompt through
 * the batched prefill of the plain-Java CPU path ({@link CpuDecoder#prefill}), and for comparison the same prompt fed
 * one position at a time (what every prompt cost before batched prefill) and through DJL's one-forward prefill.
 * Medians of timed runs after a warm-up; batch 1, float32.
 */
public final class PrefillBench {
    /**
     * llama.cpp's prompt processing on the default shape with 2 threads (issue 12: ≈ 2,200–2,300 tokens/s for
     * pp128), the figure the ratio in the report is taken against.
     */
    public static final double LLAMA_CPP_REFERENCE = 2200;

    private PrefillBench() {}

    /**
     * @param defaultShape whether {@code decoder} has the reference shape (the report then carries the ratio to
     *                     llama.cpp)
     */
    public static ObjectNode run(Decoder decoder, int tokens, int reps, String source, boolean defaultShape) {
        if (tokens < 1 || tokens > decoder.config().maxPositions()) {
            throw new Mm1Exception("--tokens must be within [1, " + decoder.config().maxPositions() + "] (the model's "
                    + "context), got " + tokens);
        }
        if (reps < 1) {
            throw new Mm1Exception("--reps must be >= 1, got " + reps);
        }
        CpuDecoder cpu = decoder.cpuDecoder(tokens);
        if (cpu == null) {
            throw new Mm1Exception("the CPU path does not apply to this model (MoE, float64 or not on the CPU): "
                    + "bench prefill measures it");
        }
        int[] ids = new SplittableRandom(7).ints(tokens, 0, decoder.config().vocabSize()).toArray();
        double batched;
        double stepwise;
        double cpuSeconds;
        synchronized (cpu) {
            cpu.ensureCapacity(tokens);
            Runnable prefill = () -> {
                cpu.reset();
                cpu.prefill(ids);
            };
            warmUp(prefill);
            long cpu0 = processCpuNanos();
            batched = median(reps + 1, prefill);
            cpuSeconds = (processCpuNanos() - cpu0) / 1e9 / (reps + 1);
            stepwise = median(Math.min(reps, 3) + 1, () -> {
                cpu.reset();
                for (int id : ids) {
                    cpu.step(id);
                }
            });
        }
        double djl = median(Math.min(reps, 3) + 1, () -> djlPrefill(decoder, ids));
        ObjectNode o = Bench.report("prefill");
        o.put("model", source);
        o.put("params", decoder.params().numel());
        o.put("path", "java-cpu");
        o.put("kernel", io.mm1j.llm.Dot.VECTOR ? "vector-api" : "scalar");
        o.put("decodeThreads", cpu.threads());
        o.put("tokens", tokens);
        o.put("seconds", batched);
        o.put("tokensPerSecond", tokens / batched);
        o.put("msPerToken", 1000.0 * batched / tokens);
        o.put("cpuSecondsPerRun", cpuSeconds); // on a loaded machine: tokens per CPU-second = tokens / this
        o.put("stepwiseTokensPerSecond", tokens / stepwise);
        o.put("speedupOverStepwise", stepwise / batched);
        o.put("djlTokensPerSecond", tokens / djl);
        if (defaultShape) {
            o.put("llamaCppReferenceTokensPerSecond", LLAMA_CPP_REFERENCE);
            o.put("ratioToLlamaCpp", tokens / batched / LLAMA_CPP_REFERENCE);
        }
        o.put("gflops", 2.0 * matmulParams(decoder) * tokens / batched / 1e9);
        o.put("batch", 1);
        o.put("dtype", "float32");
        return PeakRss.addTo(o);
    }

    /** Weights every prompt position multiplies (the LM head only for the last one, so it is left out). */
    private static long matmulParams(Decoder d) {
        var c = d.config();
        long perLayer = (long) c.hiddenSize() * (c.numHeads() + 2L * c.numKvHeads()) * c.headDim()
                + (long) c.numHeads() * c.headDim() * c.hiddenSize() + 3L * c.hiddenSize() * c.intermediateSize();
        return perLayer * c.numLayers();
    }

    private static void djlPrefill(Decoder d, int[] ids) {
        long[] l = Arrays.stream(ids).asLongStream().toArray();
        try (NDScope s = new NDScope(); KvCache kv = d.newCache(1, ids.length)) {
            NDArray h = d.embed(d.params().manager().create(l, new Shape(1, l.length))); // (1, T, D)
            d.forward(h, null, kv, true).logits().toFloatArray();
            s.suppressNotUsedWarning();
        }
    }

    /** Runs until the JIT has compiled the kernels: 20 runs or 2 seconds, whichever comes first. */
    private static void warmUp(Runnable r) {
        long end = System.nanoTime() + 2_000_000_000L;
        for (int i = 0; i < 20 && System.nanoTime() < end; i++) {
            r.run();
        }
    }

    /** CPU time of this process (all threads; spinning decode workers included), or 0 when unknown. */
    private static long processCpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean os) {
            return Math.max(0, os.getProcessCpuTime());
        }
        return 0;
    }

    /** Median seconds of {@code runs - 1} timed runs after one warm-up run. */
    private static double median(int runs, Runnable r) {
        r.run();
        double[] secs = new double[runs - 1];
        for (int i = 0; i < secs.length; i++) {
            long t0 = System.nanoTime();
            r.run();
            secs[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(secs);
        return secs[secs.length / 2];
    }
}
