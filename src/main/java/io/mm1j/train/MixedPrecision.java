package io.mm1j.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.mm1j.Mm1Exception;
import io.mm1j.nn.ParamStore;
import java.util.List;
import java.util.Map;

/**
 * Mixed-precision training ({@code train.mixed_precision}): BF16 or FP16 compute with FP32 master weights, on GPUs,
 * in the classic master-weights scheme (Micikevicius et al., "Mixed Precision Training", arXiv 1710.03740).
 *
 * <p>The model the optimizer updates keeps FP32 weights, FP32 gradients and FP32 optimizer state; a working copy in
 * the compute type on each device runs the forward and the backward ({@link DataParallel}: with one device it is
 * the data-parallel path with one working replica). Its gradients are converted to FP32 and summed into the master's,
 * and after the step the master's weights are rounded into the working copies. The logits are promoted to FP32
 * before the loss (TrainLoop), so log-softmax and the cross-entropy run in FP32. (DJL's {@code toType} does not
 * record a gradient, so a per-layer cast in the graph, autocast-style, is not possible here; type promotion is.)
 *
 * <p>FP16 needs loss scaling ({@link LossScale}: the loss is multiplied by S before the backward, the gradients
 * divided by S before clipping; S halves after a step with non-finite gradients, which the optimizer skips, and
 * doubles after 2000 good steps, as torch.cuda.amp.GradScaler does). BF16 has FP32's range and needs none.
 *
 * <p>Refused on the CPU: libtorch's CPU BF16 aborts the JVM in this DJL build (DJL_COOKBOOK pitfall 3), and CPU
 * FP16 matmuls are slower than FP32, so there is nothing to gain. The tests run the same path in FP16 on the CPU.
 */
public final class MixedPrecision {
    public static final List<String> MODES = List.of("none", "bf16", "fp16");

    private MixedPrecision() {}

    /** The compute type of a mode, or null for "none". */
    public static DataType computeType(String mode) {
        return switch (mode) {
            case "none" -> null;
            case "bf16" -> DataType.BFLOAT16;
            case "fp16" -> DataType.FLOAT16;
            default -> throw new Mm1Exception("train.mixed_precision must be one of " + MODES + ", got '" + mode + "'");
        };
    }

    /** A clear refusal of mixed precision on a CPU device. */
    public static void check(String mode, Device device) {
        if (!mode.equals("none") && !device.isGpu()) {
            throw new Mm1Exception("train.mixed_precision " + mode + " needs a CUDA device (--device cuda:N with the "
                    + "-Pcuda build); on the CPU train in float32 (train.mixed_precision none)");
        }
    }

    /** Dynamic loss scaling for FP16 (torch.cuda.amp.GradScaler's defaults: 2^16, ×2 every 2000 good steps). */
    public static final class LossScale {
        static final double INITIAL = 65536;
        static final int GROWTH_INTERVAL = 2000;
        private double scale;
        private int goodSteps;

        public LossScale() {
            this(INITIAL);
        }

        public LossScale(double initial) {
            this.scale = initial;
        }

        public double scale() {
            return scale;
        }

        /** Divides every gradient of {@code params} by the scale (before clipping and the step). */
        public void unscale(ParamStore params) {
            double inv = 1 / scale;
            for (Map.Entry<String, NDArray> e : params.all().entrySet()) {
                if (e.getValue().hasGradient()) {
                    try (NDArray g = e.getValue().getGradient()) {
                        g.muli(inv);
                    }
                }
            }
        }

        /** After a step: {@code applied} false (non-finite gradients, step skipped) halves the scale. */
        public void update(boolean applied) {
            if (!applied) {
                scale = Math.max(1, scale / 2);
                goodSteps = 0;
            } else if (++goodSteps % GROWTH_INTERVAL == 0) {
                scale *= 2;
            }
        }
    }
}
