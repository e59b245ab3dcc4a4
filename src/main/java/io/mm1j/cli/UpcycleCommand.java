package io.mm1j.cli;

import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.train.Upcycle;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 upcycle}: dense → MoE model folder (experts copied from the FFN), for {@code pretrain --init}. */
@Command(name = "upcycle", mixinStandardHelpOptions = true,
        description = "Turn a dense model into a mixture-of-experts model: every K-th FFN becomes E experts copied "
                + "from it (top-2 routing, balance loss 0.01, z-loss 0.001); continue with 'pretrain --init'.")
public final class UpcycleCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Dense model folder (or a run folder with model/).")
    Path model;

    @Option(names = "--experts", required = true, description = "Experts per MoE layer (E >= 2).")
    int experts;

    @Option(names = "--every", defaultValue = "2", description = "Every K-th layer becomes MoE (default: "
            + "${DEFAULT-VALUE}).")
    int every;

    @Option(names = "--out", required = true, description = "Output model folder.")
    Path out;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder.")
    boolean overwrite;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the routers' init (default: ${DEFAULT-VALUE}).")
    int seed;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() {
        device.use();
        io.mm1j.io.OutputDir.refuseOverInput(out, "--out", model, "--model");
        io.mm1j.io.OutputDir.refuseOverInput(out, "--out", io.mm1j.mllm.Mm1Model.resolveFolder(model), "--model");
        Mm1Config c = Upcycle.run(model, experts, every, out, overwrite, seed);
        Map<String, Long> counts = ParamCount.all(c);
        // the whole model's counts, as 'mm1 info' prints them (vision tower and connector included)
        System.out.printf(Locale.ROOT, "upcycled: %d experts every %d layer(s); %.2fM parameters, %.2fM active per "
                + "token%n", experts, every, counts.get("total") / 1e6, counts.get("active") / 1e6);
        System.out.println("model folder: " + out);
        System.out.println("continue with: ./mm1 pretrain --init " + out + " --set tokenizer=" + out.resolve(
                "tokenizer.json") + " --out runs/NAME …");
        return 0;
    }
}
