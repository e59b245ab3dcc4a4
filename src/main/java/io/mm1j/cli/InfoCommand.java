package io.mm1j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.MemoryModel;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
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
