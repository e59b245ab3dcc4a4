package io.mm1j.bench;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.LlmConfig;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Decoder;
import io.mm1j.nn.MemoryProbe;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Sampler;
import java.util.Set;

/**
 * KV-cache decode speed: tokens/s for {@code tokens} greedy tokens after a warm-up, batch 1, F32. The default
 * shape (hidden 512, intermediate 1376, 8 layers, 8 heads, vocab 4096) is the one llama.cpp was timed on.
 */
public final class DecodeBench {
    private DecodeBench() {}

    public static LlmConfig defaultShape() {
        return LlmConfig.llama(4096, 512, 1376, 8, 8, 8, 1024, false);
    }

    /**
     * Median seconds of {@code rounds} timed runs of {@code tokens} greedy tokens from BOS after a warm-up of
     * {@code warmup} tokens in runs of at most {@code tokens} (the same positions as the timed runs); the
     * fastest run in best[0] (the machine's capacity when neighbours on a shared host add noise), each run's tokens/s
     * in all (in run order).
     */
    private static double time(Generator g, long[] bos, int tokens, int warmup, int rounds, int[] produced,
            double[] best, double[] all) {
        // the JIT reaches its steady code after a few hundred tokens: warm up in runs like the timed ones
        for (int done = 0; done < warmup; ) {
            int n = Math.min(tokens, warmup - done);
            done += Math.max(1, g.generate(bos, n, Sampler.ARGMAX, Set.of(), id -> { }));
        }
        double[] secs = new double[rounds];
        for (int r = 0; r < secs.length; r++) {
            long t0 = System.nanoTime();
            produced[0] = g.generate(bos, tokens, Sampler.ARGMAX, Set.of(), id -> { });
            secs[r] = (System.nanoTime() - t0) / 1e9;
            all[r] = produced[0] / secs[r];
        }
        java.util.Arrays.sort(secs);
        best[0] = secs[0];
        // the median: the middle run, or the mean of the middle two for an even count
        return rounds % 2 == 1 ? secs[rounds / 2] : (secs[rounds / 2 - 1] + secs[rounds / 2]) / 2;
    }

    /**
     * Times the default decode path (the plain-Java CPU path when it applies) and, for comparison, the DJL/libtorch
     * path in the same run.
     */
    public static ObjectNode run(Decoder decoder, int tokens, int warmup, String source) {
        return run(decoder, tokens, warmup, 3, source, true);
    }

    /**
     * {@link #run(Decoder, int, int, String)}, the DJL comparison only when {@code compareDjl}. A decoder with int8
     * weights ({@link Decoder#int8Weights}) is timed reading int8 on the CPU path.
     */
    public static ObjectNode run(Decoder decoder, int tokens, int warmup, int rounds, String source,
            boolean compareDjl) {
        if (rounds < 1) {
            throw new io.mm1j.Mm1Exception("--rounds must be >= 1, got " + rounds);
        }
        long[] bos = {decoder.config().bosTokenId()};
        int[] produced = new int[1];
        io.mm1j.llm.CpuDecoder cpu = decoder.cpuDecoder();
        boolean cpuPath = cpu != null;
        double[] best = new double[1];
        double[] each = new double[rounds];
        double s = time(new Generator(decoder, DecodePath.CPU), bos, tokens, warmup, rounds, produced, best, each);
        ObjectNode o = Bench.report("decode");
        o.put("model", source);
        o.put("params", decoder.params().numel());
        o.put("path", cpuPath ? "java-cpu" : "djl");
        o.put("kernel", cpuPath ? (io.mm1j.llm.Dot.VECTOR ? "vector-api" : "scalar") : "libtorch");
        o.put("weights", cpuPath && cpu.int8() ? "int8" : "float32");
        if (cpuPath) {
            o.put("weightBytes", cpu.weightBytes()); // the matrices the CPU path streams per token
        }
        o.put("tokens", produced[0]);
        o.put("seconds", s);
        o.put("tokensPerSecond", produced[0] / s);
        o.put("msPerToken", 1000.0 * s / produced[0]);
        o.put("rounds", rounds);
        o.put("bestTokensPerSecond", produced[0] / best[0]);
        com.fasterxml.jackson.databind.node.ArrayNode runs = o.putArray("roundsTokensPerSecond"); // in run order
        for (double t : each) {
            runs.add(Math.round(t * 10) / 10.0);
        }
        if (compareDjl) {
            int[] producedDjl = new int[1];
            double djl = time(new Generator(decoder, DecodePath.DJL), bos, tokens, warmup, rounds, producedDjl,
                    new double[1], new double[rounds]);
            o.put("djlTokensPerSecond", producedDjl[0] / djl);
            o.put("djlMsPerToken", 1000.0 * djl / producedDjl[0]);
        }
        o.put("batch", 1);
        o.put("dtype", "float32"); // activations; see "weights"
        o.put("ndArrayBytes", MemoryProbe.liveBytes(decoder.params().manager())); // the DJL copy of the weights
        return PeakRss.addTo(o);
    }

    public static Decoder randomModel(LlmConfig c, NDManager root) {
        return Decoder.init(c, root, DataType.FLOAT32);
    }
}
