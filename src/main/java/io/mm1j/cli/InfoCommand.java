package io.mm1j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.config.MemoryModel;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
import io.mm1j.config.TrainingPlan;
import io.mm1j.train.LrLaw;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 info}: parameter counts, memory and the MM1 LR law for a preset or config, without allocating. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print parameter counts, memory needs and the MM1 peak LR for a preset (nothing allocated).")
public final class InfoCommand implements Callable<Integer> {
    @Option(names = "--preset", description = "Preset name: ${COMPLETION-CANDIDATES}", completionCandidates =
            PresetNames.class)
    String preset;

    @Option(names = "--config", description = "An mm1j config.json instead of a preset.")
    Path config;

    @Option(names = "--model", description = "A model folder (mm1j, HF Llama or LLaVA) or run folder: its config, "
            + "with parameter counts read from its weight files (nothing loaded).")
    Path model;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Option(names = "--batch", defaultValue = "8", description = "Sequences per training step for the memory "
            + "model (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq", defaultValue = "0", description = "Tokens per sequence for the memory model "
            + "(default: the LLM's maxPositions).")
    int seq;

    @Option(names = "--activation-checkpointing", description = "Predict training memory with activation "
            + "checkpointing per layer.")
    boolean checkpointing;

    @Option(names = "--plan", description = "Add a multi-GPU training plan: per-GPU memory for DDP and ZeRO stages "
            + "1-3 (FSDP full shard), activations with and without recomputation, tokens per step and step time.")
    boolean plan;

    @Option(names = "--gpus", defaultValue = "8", description = "Data-parallel GPUs for --plan (default "
            + "${DEFAULT-VALUE}).")
    int gpus;

    @Option(names = "--gpu-mem", defaultValue = "80", description = "GiB of memory per GPU for --plan (default "
            + "${DEFAULT-VALUE}).")
    double gpuMem;

    @Option(names = "--global-batch", defaultValue = "512", description = "Sequences per step over all GPUs for "
            + "--plan (default ${DEFAULT-VALUE}, MM1's pre-training batch); --seq sets the sequence length.")
    int globalBatch;

    @Option(names = "--micro-batch", defaultValue = "0", description = "Sequences per GPU per forward for --plan "
            + "(gradient accumulation over the GPU's share of the batch; default: the whole share at once).")
    int microBatch;

    @Option(names = "--mfu", defaultValue = "0.4", description = "Model FLOPs utilisation for --plan's step time: "
            + "a measured one (mm1 bench train-step --device cuda:0 --json: mfu) or a guess (default "
            + "${DEFAULT-VALUE}).")
    double mfu;

    @Option(names = "--gpu-tflops", defaultValue = "989", description = "Peak dense BF16 TFLOP/s per GPU for "
            + "--plan (default ${DEFAULT-VALUE}: H100 SXM; A100 is 312).")
    double gpuTflops;

    @Option(names = "--steps", defaultValue = "200000", description = "Training steps for --plan's total time "
            + "(default ${DEFAULT-VALUE}, MM1's pre-training).")
    long steps;

    /** Picocli completion candidates. */
    static final class PresetNames extends java.util.ArrayList<String> {
        PresetNames() {
            super(Presets.NAMES);
        }
    }

    @Override
    public Integer call() {
        ObjectNode out;
        Mm1Config cfg;
        if (model != null) {
            Path dir = io.mm1j.mllm.Mm1Model.resolveFolder(model);
            cfg = io.mm1j.mllm.FolderInfo.config(dir);
            out = describe(cfg, io.mm1j.mllm.FolderInfo.params(dir, cfg));
        } else {
            cfg = config != null ? Presets.read(config) : Presets.load(preset == null ? "mini" : preset);
            out = describe(cfg);
        }
        int t = seq == 0 ? cfg.llm().maxPositions() : seq;
        ObjectNode train = ((ObjectNode) out.get("memory")).putObject("trainingStep");
        MemoryModel.Estimate e = MemoryModel.training(cfg.llm(), out.get("params").get("total").asLong(), batch, t, 4,
                checkpointing);
        train.put("batch", batch);
        train.put("seq", t);
        train.put("activationCheckpointing", checkpointing);
        train.put("weightsBytes", e.weights());
        train.put("gradientsBytes", e.gradients());
        train.put("adamMomentsBytes", e.adamMoments());
        train.put("activationsBytes", e.activations());
        train.put("optimizerTemporariesBytes", e.optimizerTemporaries());
        train.put("runtimeBytes", e.runtime());
        train.put("peakBytes", e.peak());
        if (plan) {
            out.set("plan", plan(cfg, out.get("params").get("total").asLong(), gpus, gpuMem, globalBatch, microBatch, t, mfu,
                    gpuTflops, steps));
        }
        if (json) {
            System.out.println(Presets.toJson(out));
        } else {
            printTable(out);
        }
        return 0;
    }

    /** The info report as JSON (keys: params.*, memory.*, lr.*). */
    public static ObjectNode describe(Mm1Config cfg) {
        return describe(cfg, ParamCount.all(cfg));
    }

    /** The info report with given parameter counts (e.g. read from a folder's weight files). */
    public static ObjectNode describe(Mm1Config cfg, Map<String, Long> counts) {
        ObjectNode out = Presets.JSON.createObjectNode();
        out.put("name", cfg.name());
        out.put("description", cfg.description());
        ObjectNode params = out.putObject("params");
        counts.forEach(params::put);
        long total = counts.get("total");
        ObjectNode mem = out.putObject("memory");
        mem.put("weightsFp32Bytes", total * 4);
        mem.put("weightsBf16Bytes", total * 2);
        // AdamW keeps two FP32 moments per parameter (plus FP32 master weights when training in BF16).
        mem.put("adamStateFp32Bytes", total * 8);
        mem.put("trainingFp32Bytes", total * 16); // weights + grads + 2 moments
        // MM1 §3.3: MoE models use the same hyper-parameters as their dense backbone, so the law takes the dense N.
        long nonEmb = cfg.llm().moe() == null ? counts.get("nonEmbedding")
                : ParamCount.llm(cfg.llm().withMoe(null)).nonEmbedding();
        ObjectNode lr = out.putObject("lr");
        lr.put("law", "exp(-0.4214 ln N - 0.5535), N = non-embedding params"
                + (cfg.llm().moe() == null ? "" : " of the dense backbone (MoE uses the dense hyper-parameters)"));
        lr.put("n", nonEmb);
        lr.put("peak", LrLaw.MM1.peakLr(nonEmb));
        lr.put("weightDecay", LrLaw.MM1.weightDecay(nonEmb)); // MM1's λ = 0.1·η (decoupled, per step at peak)
        lr.put("torchWeightDecay", LrLaw.MM1.torchWeightDecay(nonEmb)); // the same in PyTorch AdamW's convention
        out.set("config", Presets.JSON.valueToTree(cfg));
        return out;
    }

    /**
     * The {@code plan} section ({@link TrainingPlan}): per-GPU model states for each layout, activations with and
     * without recomputation, whether each fits {@code gpuMemGiB}, tokens per step and the step time at {@code mfu}.
     */
    public static ObjectNode plan(Mm1Config cfg, long psi, int gpus, double gpuMemGiB, int globalBatch,
                                  int microBatch, int seq, double mfu, double gpuTflops, long steps) {
        if (!(gpuMemGiB > 0)) {
            throw new Mm1Exception("plan: --gpu-mem must be positive, got " + gpuMemGiB);
        }
        int perGpu = TrainingPlan.perGpuBatch(globalBatch, gpus);
        int micro = microBatch == 0 ? perGpu : microBatch;
        if (micro < 1 || perGpu % micro != 0) {
            throw new Mm1Exception("plan: --micro-batch " + microBatch + " must divide the " + perGpu
                    + " sequences per GPU");
        }
        long tokens = (long) globalBatch * seq;
        double flops = tokens * ParamCount.trainFlopsPerToken(cfg.llm(), seq);
        double stepSeconds = TrainingPlan.stepSeconds(flops, gpus, gpuTflops * 1e12, mfu);
        long acts = TrainingPlan.activations(cfg.llm(), micro, seq, false);
        long actsRecompute = TrainingPlan.activations(cfg.llm(), micro, seq, true);
        long gpuMemBytes = (long) (gpuMemGiB * (1L << 30));
        ObjectNode p = Presets.JSON.createObjectNode();
        p.put("gpus", gpus);
        p.put("gpuMemBytes", gpuMemBytes);
        p.put("psi", psi);
        p.put("globalBatch", globalBatch);
        p.put("perGpuBatch", perGpu);
        p.put("microBatch", micro);
        p.put("accumulationSteps", perGpu / micro);
        p.put("seq", seq);
        p.put("tokensPerStep", tokens);
        p.put("flopsPerStep", flops);
        p.put("mfu", mfu);
        p.put("gpuPeakTflops", gpuTflops);
        p.put("stepSeconds", stepSeconds);
        p.put("tokensPerSecond", tokens / stepSeconds);
        p.put("steps", steps);
        p.put("trainingDays", stepSeconds * steps / 86400);
        p.put("activationsBytesPerGpu", acts);
        p.put("activationsRecomputeBytesPerGpu", actsRecompute);
        p.put("accounting", "ZeRO (arXiv 1910.02054) mixed-precision Adam: 2Ψ weights + 2Ψ gradients + 12Ψ optimizer "
                + "states; activations: mm1j's LLM memory model in 2-byte values, no fused attention, image encoder "
                + "not modelled");
        for (String layout : TrainingPlan.LAYOUTS) {
            TrainingPlan.ModelStates ms = TrainingPlan.modelStates(layout, psi, gpus);
            ObjectNode l = p.putObject(layout);
            l.put("weightsBytesPerGpu", ms.weights());
            l.put("gradientsBytesPerGpu", ms.gradients());
            l.put("optimizerStatesBytesPerGpu", ms.optimizerStates());
            l.put("modelStatesBytesPerGpu", ms.total());
            l.put("totalBytesPerGpu", ms.total() + acts);
            l.put("totalRecomputeBytesPerGpu", ms.total() + actsRecompute);
            l.put("fits", ms.total() + acts <= gpuMemBytes);
            l.put("fitsWithRecompute", ms.total() + actsRecompute <= gpuMemBytes);
        }
        return p;
    }

    private static void printPlan(JsonNode p) {
        System.out.printf(Locale.ROOT, "plan: %d GPUs × %s, batch %d × %d tokens (%d sequences per GPU), "
                        + "%s tokens per step%n", p.get("gpus").asInt(), bytes(p.get("gpuMemBytes").asLong()),
                p.get("globalBatch").asInt(), p.get("seq").asInt(), p.get("perGpuBatch").asInt(),
                human(p.get("tokensPerStep").asLong()));
        System.out.printf(Locale.ROOT, "  activations per GPU (micro-batch %d): %s, %s with recomputation%n",
                p.get("microBatch").asInt(), bytes(p.get("activationsBytesPerGpu").asLong()), bytes(p.get("activationsRecomputeBytesPerGpu")
                        .asLong()));
        System.out.printf(Locale.ROOT, "  %-6s %12s %12s %12s %12s  %-5s %s%n", "layout", "weights", "gradients",
                "optimizer", "states", "fits", "fits (recompute)");
        for (String layout : TrainingPlan.LAYOUTS) {
            JsonNode l = p.get(layout);
            System.out.printf(Locale.ROOT, "  %-6s %12s %12s %12s %12s  %-5s %s%n", layout,
                    bytes(l.get("weightsBytesPerGpu").asLong()), bytes(l.get("gradientsBytesPerGpu").asLong()),
                    bytes(l.get("optimizerStatesBytesPerGpu").asLong()), bytes(l.get("modelStatesBytesPerGpu")
                            .asLong()), l.get("fits").asBoolean() ? "yes" : "no",
                    l.get("fitsWithRecompute").asBoolean() ? "yes" : "no");
        }
        System.out.printf(Locale.ROOT, "  step %.2f s at MFU %.2f of %.0f TFLOP/s per GPU; %d steps ≈ %.1f days%n",
                p.get("stepSeconds").asDouble(), p.get("mfu").asDouble(), p.get("gpuPeakTflops").asDouble(),
                p.get("steps").asLong(), p.get("trainingDays").asDouble());
    }

    private static void printTable(ObjectNode out) {
        System.out.printf(Locale.ROOT, "%s — %s%n", out.get("name").asText(), out.get("description").asText());
        System.out.println("parameters:");
        out.get("params").fields().forEachRemaining(f ->
                System.out.printf(Locale.ROOT, "  %-14s %16s  (%s)%n", f.getKey(),
                        String.format(Locale.ROOT, "%,d", f.getValue().asLong()), human(f.getValue().asLong())));
        System.out.println("memory:");
        out.get("memory").fields().forEachRemaining(f -> {
            if (f.getValue().isObject()) {
                return;
            }
            System.out.printf(Locale.ROOT, "  %-20s %10s%n", f.getKey(), bytes(f.getValue().asLong()));
        });
        JsonNode step = out.get("memory").get("trainingStep");
        System.out.printf(Locale.ROOT, "training step (float32, batch %d × %d tokens%s; LLM activations):%n",
                step.get("batch").asInt(), step.get("seq").asInt(),
                step.get("activationCheckpointing").asBoolean() ? ", activation checkpointing" : "");
        step.fields().forEachRemaining(f -> {
            if (f.getKey().endsWith("Bytes")) {
                System.out.printf(Locale.ROOT, "  %-26s %10s%n", f.getKey(), bytes(f.getValue().asLong()));
            }
        });
        System.out.printf(Locale.ROOT, "MM1 LR law: peak lr %.3g, weight decay %.3g%n",
                out.get("lr").get("peak").asDouble(), out.get("lr").get("weightDecay").asDouble());
        if (out.has("plan")) {
            printPlan(out.get("plan"));
        }
    }

    static String human(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2fB", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.1fM", n / 1e6);
        }
        if (n >= 1_000L) {
            return String.format(Locale.ROOT, "%.1fK", n / 1e3);
        }
        return Long.toString(n);
    }

    static String bytes(long b) {
        double gib = b / (1024.0 * 1024 * 1024);
        if (gib >= 1) {
            return String.format(Locale.ROOT, "%.2f GiB", gib);
        }
        return String.format(Locale.ROOT, "%.1f MiB", b / (1024.0 * 1024));
    }
}
