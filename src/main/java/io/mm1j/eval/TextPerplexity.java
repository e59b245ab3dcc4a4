package io.mm1j.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.llm.Decoder;
import io.mm1j.Mm1Exception;
import java.util.function.IntConsumer;

/**
 * Text-only evaluation (MM1 §4 reports text-only performance beside the few-shot score): perplexity and mean
 * negative log-likelihood per token of held-out text, computed with a sliding window because the text is longer
 * than the model's context. Each window is BOS followed by up to {@code window − 1} text tokens (predicting {@code window}) — llama2.c-style
 * models always see BOS at position 0, and a window starting mid-text without it scores worse for a reason that
 * has nothing to do with the text. Windows advance by {@code stride}; only tokens not scored by an earlier window
 * count, so every token is scored exactly once, with at least {@code window − stride} tokens of context except
 * at the start (the Hugging Face perplexity recipe).
 */
public final class TextPerplexity {
    /**
     * @param perplexity exp(meanNll)
     * @param meanNll    mean negative log-likelihood per scored token, in nats
     * @param tokens     tokens scored
     * @param windows    forward passes
     */
    public record Result(double perplexity, double meanNll, long tokens, int windows) {}

    private TextPerplexity() {}

    /**
     * @param tokens   the text's token ids, without BOS
     * @param window   positions per forward pass (BOS included), at most the model's maxPositions
     * @param stride   text tokens the window advances by, in [1, window − 1]
     * @param progress receives the number of tokens scored so far after each window
     */
    public static Result evaluate(Decoder decoder, long[] tokens, int bosId, int window, int stride,
            IntConsumer progress) {
        int ctx = window; // BOS + (window - 1) inputs predict `window` text tokens
        if (window < 2 || window > decoder.config().maxPositions()) {
            throw new Mm1Exception("--context must be within [2, maxPositions=" + decoder.config().maxPositions()
                    + "], got " + window);
        }
        if (stride < 1 || stride > window - 1) {
            throw new Mm1Exception("--stride must be within [1, " + (window - 1) + "], got " + stride);
        }
        if (tokens.length == 0) {
            throw new Mm1Exception("no text to evaluate");
        }
        NDManager m = decoder.params().manager();
        double nllSum = 0;
        long scored = 0;
        int windows = 0;
        int prevEnd = 0;
        for (int begin = 0; ; begin += stride) {
            int end = Math.min(begin + ctx, tokens.length);
            int t = end - begin;
            long[] input = new long[t];
            input[0] = bosId;
            System.arraycopy(tokens, begin, input, 1, t - 1);
            long[] target = new long[t];
            System.arraycopy(tokens, begin, target, 0, t);
            int from = prevEnd - begin; // input position i predicts tokens[begin + i]; score the new ones only
            try (NDScope scope = new NDScope()) {
                NDArray logits = decoder.forward(m.create(input, new Shape(1, t))).logits(); // (1, T, V)
                NDArray logp = logits.logSoftmax(-1).get(new NDIndex().addAllDim().addSliceDim(from, t)); // (1, n, V)
                NDArray tgt = m.create(java.util.Arrays.copyOfRange(target, from, t), new Shape(1, t - from, 1));
                NDArray picked = logp.gather(tgt, -1); // (1, n, 1)
                nllSum -= picked.sum().toType(DataType.FLOAT64, false).getDouble();
                scope.suppressNotUsedWarning();
            }
            scored += t - from;
            windows++;
            prevEnd = end;
            progress.accept((int) scored);
            if (end == tokens.length) {
                break;
            }
        }
        double mean = nllSum / scored;
        return new Result(Math.exp(mean), mean, scored, windows);
    }
}
