package io.mm1j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import io.mm1j.llm.Decoder;
import java.util.function.Supplier;

/**
 * One language-model optimisation step in nanoGPT's order: forward → loss (+ MoE auxiliary loss) → backward →
 * global-norm clip → AdamW update (gradients zeroed by the optimiser). Every temporary lives in an
 * {@link NDScope} so memory stays flat over thousands of steps (cookbook pitfall 4).
 */
public final class LmStep {
    private LmStep() {}

    /** The step's scalars, read back to Java. */
    public record Result(double loss, double auxLoss, double gradNorm) {}

    /**
     * @param input   (B, T) int64 tokens
     * @param targets (B, T) int64 next tokens
     * @param mask    (B, T) 1 where the loss counts, or null
     */
    public static Result run(Decoder decoder, AdamW opt, NDArray input, NDArray targets, NDArray mask, double lr,
                             double weightDecay, double clip) {
        return run(() -> decoder.forward(input), opt, targets, mask, lr, weightDecay, clip);
    }

    /**
     * The same step for any forward pass producing decoder outputs (e.g. an MM1 model with images spliced in).
     *
     * @param forward runs inside the gradient recording; returns logits (B, T, V) and the MoE auxiliary loss
     */
    public static Result run(Supplier<Decoder.Output> forward, AdamW opt, NDArray targets, NDArray mask, double lr,
                             double weightDecay, double clip) {
        double loss;
        double aux = 0;
        try (NDScope scope = new NDScope()) {
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                Decoder.Output out = forward.get();
                // the mean over positions where the mask is 1 (an all-zero mask: 0, no tokens to learn from)
                double count = Losses.tokenCount(targets, mask);
                Losses.TokenLoss ce = Losses.tokenLoss(out.logits(), targets, mask, 1 / count);
                NDArray total = ce.objective();
                if (out.auxLoss() != null) {
                    total = total.add(out.auxLoss());
                    aux = out.auxLoss().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
                }
                gc.backward(total);
                NDArray nll = ce.nll().toType(ai.djl.ndarray.types.DataType.FLOAT64, false);
                loss = (mask == null ? nll : nll.mul(mask.toType(nll.getDataType(), false))).sum().getDouble()
                        / count;
            }
            scope.suppressNotUsedWarning();
        }
        double norm = opt.clipGlobalNorm(clip);
        if (!opt.step(lr, weightDecay)) {
            org.slf4j.LoggerFactory.getLogger(LmStep.class).warn("gradient norm is {}; the update is skipped", norm);
        }
        return new Result(loss, aux, norm);
    }
}
