package io.mm1j.bench;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.LlmConfig;
import io.mm1j.llm.Decoder;
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

    public static ObjectNode run(Decoder decoder, int tokens, int warmup, String source) {
        Generator g = new Generator(decoder);
        long[] bos = {decoder.config().bosTokenId()};
        g.generate(bos, warmup, Sampler.ARGMAX, Set.of(), id -> { });
        // Repeat the timed run 3 times and keep the median (shared machines are noisy).
        double[] secs = new double[3];
        int produced = 0;
        for (int r = 0; r < secs.length; r++) {
            long t0 = System.nanoTime();
            produced = g.generate(bos, tokens, Sampler.ARGMAX, Set.of(), id -> { });
            secs[r] = (System.nanoTime() - t0) / 1e9;
        }
        java.util.Arrays.sort(secs);
        double s = secs[1];
        ObjectNode o = Bench.report("decode");
        o.put("model", source);
        o.put("params", decoder.params().numel());
        o.put("tokens", produced);
        o.put("seconds", s);
        o.put("tokensPerSecond", produced / s);
        o.put("msPerToken", 1000.0 * s / produced);
        o.put("batch", 1);
        o.put("dtype", "float32");
        return o;
    }

    public static Decoder randomModel(LlmConfig c, NDManager root) {
        return Decoder.init(c, root, DataType.FLOAT32);
    }
}
