package io.mm1j.cli;

import io.mm1j.ablate.Ablation;
import io.mm1j.ablate.Studies;
import io.mm1j.ablate.Study;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 ablate}: MM1's ablations rerun at laptop scale, with seeds, as a report. */
@Command(name = "ablate", mixinStandardHelpOptions = true,
        description = "Rerun MM1's ablations (MM1 §3) at laptop scale: each study varies one choice at equal "
                + "training compute; every configuration × seed is pre-trained, then scored 0/4/8-shot (caption "
                + "CIDEr-D, VQA accuracy) on the synthetic world's held-out split plus text perplexity. Writes "
                + "report.md (tables with bootstrap 95%% intervals over seeds and items, MM1's lessons marked "
                + "reproduced / not reproduced / inconclusive), plots/*.png and results.jsonl. Resumable: finished "
                + "runs are reused.",
        footer = {"", "Studies:", "  resolution          image resolution 32/48/64 px at patch 8",
                "  image-tokens        image tokens k = 4/16/64",
                "  connector           average pooling / attention pooling / C-Abstractor at k = 16",
                "  encoder-size        ViT 32×1 / 64×2 / 128×4 (width × layers)",
                "  encoder-data        250 vs 1000 distinct training pictures",
                "  data-mix            captions only, interleaved only, 45/45/10, no text, + re-captioned captions",
                "  moe                 dense vs upcycled MoE (equal steps) vs MoE at equal active params",
                "  encoder-objective   CLIP / AIM pre-trained encoder (mm1 clip, then pretrain from it) / random frozen",
                "  sft-resolution      SFT at the encoder's resolution / one 1.5x crop / 2x2 sub-images + overview",
                "  sft-vs-pretraining  the same SFT after none, half or all of the pre-training steps",
                "  lr                  peak LR vs size (delegates to lr-sweep)",
                "",
                "Two-stage studies: the encoder stage runs as many steps as pre-training (64 image-text pairs each);",
                "SFT runs half as many steps as pre-training. Both are part of the budget sizing."})
public final class AblateCommand implements Callable<Integer> {
    @Option(names = "--study", required = true, description = "Studies to run, comma-separated, or 'all'; "
            + "listed below.")
    String study;

    @Option(names = "--seeds", defaultValue = "2", description = "Seeds per configuration (default ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--budget-minutes", defaultValue = "60", description = "Wall-clock budget for the whole "
            + "ablation (default ${DEFAULT-VALUE}); steps per run are sized from a measured step time.")
    double budgetMinutes;

    @Option(names = "--out", required = true, description = "Ablation folder (runs/NAME); an earlier ablation there "
            + "is resumed.")
    Path out;

    @Option(names = "--config", description = "Base run config (as 'pretrain --config'); default: the built-in "
            + "ablation base (64 px ViT 64×2, C-Abstractor k=16, Llama 128×2).")
    Path config;

    @Option(names = "--set", description = "Override of the base config, as in 'pretrain' (repeatable).")
    List<String> sets = new ArrayList<>();

    @Option(names = "--data", description = "Train on other data: a JSON file listing data.sources entries (the "
            + "formats 'data check' reads) or a folder written by 'mm1 data synth'. Evaluation stays on the "
            + "synthetic world's held-out split and SFT on its conversations; variants that change the synthetic "
            + "world, and encoder stages when no source holds image-text pairs (coco, wds), are skipped.")
    Path data;

    @Option(names = "--eval-items", defaultValue = "32", description = "Held-out captions and questions scored per "
            + "shot setting (default ${DEFAULT-VALUE}).")
    int evalItems;

    @Option(names = "--text-docs", defaultValue = "48", description = "Held-out text documents for perplexity "
            + "(default ${DEFAULT-VALUE}).")
    int textDocs;

    @Option(names = "--steps", description = "Steps per run instead of sizing them from the budget.")
    int steps;

    @Option(names = "--report-only", description = "Write report.md, plots and results.jsonl from the runs finished "
            + "so far (e.g. while another session still trains, or after one was stopped); trains nothing.")
    boolean reportOnly;

    @Mixin
    DeviceOption device;

    @Option(names = "--plan-only", description = "Time the probe, size the steps for the budget, write plan.json "
            + "and stop (a later run in the same --out keeps that plan).")
    boolean planOnly;

    @Override
    public Integer call() {
        device.use();
        List<Study> studies = Studies.select(study);
        Ablation.run(new Ablation.Options(out, studies, seeds, budgetMinutes, config, sets, data, evalItems,
                textDocs, steps, reportOnly, planOnly), line -> {
                    System.out.println(line);
                    System.out.flush();
                });
        return 0;
    }
}
