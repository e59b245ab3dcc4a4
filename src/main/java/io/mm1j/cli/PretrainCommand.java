package io.mm1j.cli;

import io.mm1j.train.Pretrainer;
import io.mm1j.train.RunConfig;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 pretrain}: parses the run options, shows progress, prints where the results are. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = "Pre-train an MM1 model (45/45/10 captions/interleaved/text, warm-up + cosine, MM1 LR law) "
                + "into a run folder; resumable.")
public final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--config", description = "Run config JSON (keys as in the README; defaults for the rest).")
    Path config;



    @Option(names = "--preset", description = "Sets model.preset.")
    String preset;

    @Option(names = "--data", description = "Sets the data: 'synthetic' (the synthetic world) or a folder written by "
            + "'mm1 data synth'.")
    String data;





    @Option(names = "--init", description = "Start from this model folder (or run folder) instead of random weights.")
    Path init;


    @Option(names = "--dry-run", description = "Print the resolved config, parameter counts, memory, LR and tokens "
            + "per step, then exit.")
    boolean dryRun;

    @Mixin
    RunOptions run;

    @Mixin
    DeviceOption device;

    @Mixin
    TrainDevicesOption trainDevices;

    @Override
    public Integer call() {
        device.use();
        Map<String, String> shorthand = run.shorthand(preset);
        trainDevices.addTo(shorthand);
        if (data != null && !data.equals("synthetic")) {
            shorthand.put("data.sources", synthFolderSources(Path.of(data)));
        }
        Path base = run.base(config);
        RunConfig rc = RunConfig.resolve(base, shorthand, run.sets);
        if (dryRun) {
            System.out.println(Pretrainer.plan(rc, io.mm1j.config.Presets.load(rc.text("model.preset")).llm()
                    .vocabSize(), init).toPrettyString());
            return 0;
        }
        Pretrainer.Result r = Pretrainer.run(new Pretrainer.Options(run.out, rc, run.resume, run.overwrite, init,
                run.stopAtStep()),
                new ConsoleProgress(rc.integer("train.log_interval")));
        System.out.println(io.mm1j.train.Pretrainer.outcome(r.complete(), r.step(), r.summary()));
        System.out.println("run folder: " + r.runDir());
        System.out.println("  metrics:  " + r.runDir().resolve("metrics.jsonl"));
        System.out.println("  plots:    " + r.runDir().resolve("plots"));
        System.out.println(r.complete() ? "  model:    " + r.runDir().resolve("model")
                : "  resume:   ./mm1 pretrain --out " + run.out + " --resume");
        return 0;
    }

    /** A folder written by {@code mm1 data synth}: its three train sources in MM1's 45/45/10 mix. */
    static String synthFolderSources(Path dir) {
        String d = dir.toAbsolutePath().normalize().toString().replace("\\", "/").replace("\"", "\\\"");
        if (!java.nio.file.Files.exists(dir)) {
            throw new io.mm1j.Mm1Exception("--data " + dir + ": not found");
        }
        if (!java.nio.file.Files.isDirectory(dir)) {
            throw new io.mm1j.Mm1Exception("--data " + dir + ": not a folder (give 'synthetic' or a folder written "
                    + "by 'mm1 data synth'; list other datasets in data.sources of a --config file)");
        }
        if (!dir.resolve("manifest.json").toFile().isFile()) {
            throw new io.mm1j.Mm1Exception("--data " + dir + ": not a folder written by 'mm1 data synth' "
                    + "(manifest.json missing); list other datasets in data.sources of a --config file");
        }
        return "[{\"name\":\"interleaved\",\"format\":\"mmc4\",\"path\":\"" + d + "/interleaved/train.jsonl\","
                + "\"images\":\"" + d + "/interleaved/images/train\",\"weight\":0.45},"
                + "{\"name\":\"captions\",\"format\":\"coco\",\"path\":\"" + d + "/coco/captions_train.json\","
                + "\"images\":\"" + d + "/images/train\",\"weight\":0.45},"
                + "{\"name\":\"text\",\"format\":\"text\",\"path\":\"" + d + "/text/train.txt\",\"weight\":0.10}]";
    }

    /** A progress bar on a terminal; otherwise (logs, CI) a line every {@code train.log_interval} steps. */
    static final class ConsoleProgress implements Pretrainer.Progress {
        private final boolean tty = System.console() != null;
        private final long logInterval;

        ConsoleProgress(long logInterval) {
            this.logInterval = Math.max(1, logInterval);
        }

        private ProgressBar bar;
        private long total;
        private long first;
        private long t0;

        @Override
        public void start(long fromStep, long totalSteps, String description) {
            total = totalSteps;
            first = fromStep;
            t0 = System.nanoTime();
            System.out.println(description + (fromStep > 0 ? " (resuming after step " + fromStep + ")" : ""));
            if (tty) {
                bar = new ProgressBarBuilder().setTaskName("pretrain").setInitialMax(totalSteps)
                        .setStyle(ProgressBarStyle.ASCII).startsFrom(fromStep, java.time.Duration.ZERO).build();
            }
        }

        @Override
        public void step(long step, Map<String, Double> m) {
            if (bar != null) {
                bar.stepTo(step);
                bar.setExtraMessage(String.format(Locale.ROOT, "loss %.3f  %.0f tok/s", m.get("loss"),
                        m.get("tokensPerSecond")));
                return;
            }
            long now = System.nanoTime();
            if (step % logInterval == 0 || step == total || step == first + 1) {
                double el = (now - t0) / 1e9;
                double eta = el / (step - first) * (total - step);
                System.out.printf(Locale.ROOT, "step %d/%d  loss %.4f  lr %.2e  grad %.2f  %.0f tok/s  ETA %.0fs%n",
                        step, total, m.get("loss"), m.get("lr"), m.get("gradNorm"), m.get("tokensPerSecond"), eta);
            }
        }

        @Override
        public void eval(long step, Map<String, Double> m) {
            StringBuilder sb = new StringBuilder(m.containsKey("valLoss") ? String.format(Locale.ROOT,
                    "step %d  validation loss %.4f", step, m.get("valLoss"))
                    : String.format(Locale.ROOT, "step %d  quick evaluation", step));
            m.forEach((k, v) -> {
                if (k.startsWith("valLoss/")) {
                    Double blind = m.get("valLossBlind/" + k.substring(8));
                    sb.append(String.format(Locale.ROOT, "  %s %.4f", k.substring(8), v));
                    if (blind != null) {
                        sb.append(String.format(Locale.ROOT, " (blind %.4f)", blind));
                    }
                }
            });
            m.forEach((k, v) -> {
                if (k.startsWith("eval/cider@")) {
                    sb.append(String.format(Locale.ROOT, "  CIDEr-D@%s %.3f", k.substring(11), v));
                } else if (k.startsWith("eval/vqa@")) {
                    sb.append(String.format(Locale.ROOT, "  VQA@%s %.1f%%", k.substring(9), v));
                }
            });
            if (bar != null) {
                bar.pause();
                System.out.println();
            }
            System.out.println(sb);
            if (bar != null) {
                bar.resume();
            }
        }

        @Override
        public void finish() {
            if (bar != null) {
                bar.close();
            }
        }
    }
}
