package io.mm1j.config;

import io.mm1j.Mm1Exception;
import java.util.List;

/**
 * A memory and step-time plan for data-parallel training on many GPUs ({@code mm1 info --plan}), for the paper's
 * scale: how much of each GPU the model states take under DDP and the three ZeRO stages, what the activations add
 * with and without recomputation, and how long a step takes at a given MFU.
 *
 * <p>Model states follow the ZeRO paper (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
 * Parameter Models", arXiv 1910.02054, §3.1 and Figure 1): mixed-precision Adam keeps 2Ψ bytes of fp16/bf16
 * weights, 2Ψ bytes of fp16/bf16 gradients and KΨ = 12Ψ bytes of optimizer states (fp32 master weights, momentum
 * and variance, 4Ψ each), Ψ the parameter count. Across N_d data-parallel GPUs (§5.1–5.3, Figure 1):
 * <ul>
 *   <li>{@code ddp}: nothing sharded, (2 + 2 + K)Ψ = 16Ψ per GPU;</li>
 *   <li>{@code zero1} (P_os): 2Ψ + 2Ψ + KΨ/N_d;</li>
 *   <li>{@code zero2} (P_os+g): 2Ψ + (2 + K)Ψ/N_d;</li>
 *   <li>{@code zero3} (P_os+g+p, = PyTorch FSDP full shard): (2 + 2 + K)Ψ/N_d.</li>
 * </ul>
 * Sharded sizes are rounded up to whole bytes per GPU (⌈xΨ/N_d⌉).
 *
 * <p>Activations come from {@link MemoryModel} (the LLM's recorded intermediates at the per-GPU batch, in 2-byte
 * values for bf16/fp16 compute), which models mm1j's own implementation: attention scores are materialised (no
 * fused attention kernel), so they dominate at long sequences without recomputation. Image-encoder activations are
 * not modelled.
 *
 * <p>Step time: model FLOPs per step = tokens per step × (6·N_matmul + 12·L·T·d_attn) (PaLM, Chowdhery et al.
 * 2022, appendix B; {@link ParamCount#trainFlopsPerToken}), divided by N_d × peak FLOP/s × MFU. Recomputation adds
 * hardware FLOPs but not model FLOPs, so a measured MFU already carries its cost.
 */
public final class TrainingPlan {
    /** The layouts, in order of increasing sharding. */
    public static final List<String> LAYOUTS = List.of("ddp", "zero1", "zero2", "zero3");
    /** Bytes per parameter of the fp16/bf16 weights and of their gradients (ZeRO §3.1). */
    public static final int HALF_BYTES = 2;
    /** K: bytes per parameter of mixed-precision Adam's fp32 master weights, momentum and variance (ZeRO §3.1). */
    public static final int ADAM_K = 12;

    private TrainingPlan() {}

    /** Per-GPU model-state bytes of one layout. */
    public record ModelStates(long weights, long gradients, long optimizerStates) {
        public long total() {
            return weights + gradients + optimizerStates;
        }
    }

    /**
     * Model states per GPU for {@code layout} (one of {@link #LAYOUTS}) with {@code psi} parameters over
     * {@code gpus} data-parallel GPUs.
     */
    public static ModelStates modelStates(String layout, long psi, int gpus) {
        if (psi < 1 || gpus < 1) {
            throw new Mm1Exception("plan: parameters and GPUs must be positive, got " + psi + " and " + gpus);
        }
        long w = HALF_BYTES * psi;
        long g = HALF_BYTES * psi;
        long os = ADAM_K * psi;
        return switch (layout) {
            case "ddp" -> new ModelStates(w, g, os);
            case "zero1" -> new ModelStates(w, g, shard(os, gpus));
            case "zero2" -> new ModelStates(w, shard(g, gpus), shard(os, gpus));
            case "zero3" -> new ModelStates(shard(w, gpus), shard(g, gpus), shard(os, gpus));
            default -> throw new Mm1Exception("plan: unknown layout '" + layout + "', expected one of " + LAYOUTS);
        };
    }

    private static long shard(long bytes, int gpus) {
        return (bytes + gpus - 1) / gpus;
    }

    /**
     * Sequences per GPU per step when {@code globalBatch} sequences are split evenly over {@code gpus}
     * (no gradient accumulation).
     */
    public static int perGpuBatch(int globalBatch, int gpus) {
        if (globalBatch < 1 || gpus < 1) {
            throw new Mm1Exception("plan: --global-batch and --gpus must be positive, got " + globalBatch + " and "
                    + gpus);
        }
        if (globalBatch % gpus != 0) {
            throw new Mm1Exception("plan: --global-batch " + globalBatch + " does not split evenly over --gpus "
                    + gpus);
        }
        return globalBatch / gpus;
    }

    /** LLM activation bytes per GPU at {@code perGpuBatch} × {@code seq} tokens in 2-byte compute values. */
    public static long activations(LlmConfig c, int perGpuBatch, int seq, boolean recompute) {
        return MemoryModel.training(c, 1, perGpuBatch, seq, HALF_BYTES, recompute).activations();
    }

    /**
     * Seconds per step: {@code flopsPerStep} model FLOPs over {@code gpus} GPUs of {@code peakFlops} FLOP/s each
     * running at {@code mfu}.
     */
    public static double stepSeconds(double flopsPerStep, int gpus, double peakFlops, double mfu) {
        if (!(mfu > 0 && mfu <= 1)) {
            throw new Mm1Exception("plan: --mfu must be in (0, 1], got " + mfu);
        }
        if (!(peakFlops > 0)) {
            throw new Mm1Exception("plan: --gpu-tflops must be positive, got " + peakFlops / 1e12);
        }
        return flopsPerStep / (gpus * peakFlops * mfu);
    }
}
