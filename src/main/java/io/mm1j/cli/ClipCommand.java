package io.mm1j.cli;

import io.mm1j.train.EncoderPretrainer;
import io.mm1j.train.Pretrainer;
import io.mm1j.train.RunConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 clip}: image-encoder pre-training (CLIP or AIM) into a run folder; prints where the encoder is. */
@Command(name = "clip", mixinStandardHelpOptions = true,
        description = "Pre-train the image encoder (MM1 §3.1): contrastive CLIP with a small text tower, or "
                + "--objective aim (autoregressive patch regression); zero-shot retrieval R@1/R@5 on held-out pairs; "
                + "writes the encoder as a Hugging Face CLIPVisionModel folder for pretrain's model.vision.init.")
public final class ClipCommand implements Callable<Integer> {
    @Option(names = "--config", description = "Config JSON (keys as in the README; defaults for the rest).")
    Path config;



    @Option(names = "--objective", description = "Sets objective: clip (symmetric InfoNCE) or aim.")
    String objective;

    @Option(names = "--preset", description = "Sets model.preset (the encoder of this MM1 preset).")
    String preset;

    @Option(names = "--data", description = "Sets the data: 'synthetic' (the synthetic world's captions) or a "
            + "folder written by 'mm1 data synth'.")
    String data;






    @Mixin
    RunOptions run;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() {
        device.use();
        Map<String, String> shorthand = new LinkedHashMap<>();
        if (objective != null) {
            shorthand.put("objective", objective);
        }
        shorthand.putAll(run.shorthand(preset));
        if (data != null && !data.equals("synthetic")) {
            shorthand.put("data.sources", synthCaptions(Path.of(data)));
        }
        Path base = run.base(config);
        RunConfig rc = EncoderPretrainer.config(base, shorthand, run.sets);
        EncoderPretrainer.Result r = EncoderPretrainer.run(new EncoderPretrainer.Options(run.out, rc, run.resume,
                run.overwrite, run.stopAtStep()), new Progress());
        System.out.println(io.mm1j.train.Pretrainer.outcome(r.complete(), r.step(), r.summary()));
        if (r.summary().has("retrieval/t2i@1")) {
            System.out.printf(Locale.ROOT, "held-out retrieval: image→text R@1 %.1f%% R@5 %.1f%%, text→image R@1 "
                            + "%.1f%% R@5 %.1f%% (chance R@1 %.1f%% / %.1f%%)%n", pct(r, "i2t@1"), pct(r, "i2t@5"),
                    pct(r, "t2i@1"), pct(r, "t2i@5"), pct(r, "chance/i2t@1"), pct(r, "chance/t2i@1"));
        }
        System.out.println("run folder: " + r.runDir());
        System.out.println("  metrics:  " + r.runDir().resolve("metrics.jsonl"));
        System.out.println("  plots:    " + r.runDir().resolve("plots"));
        System.out.println(r.complete() ? "  encoder:  " + r.runDir().resolve("encoder")
                + "  (mm1 pretrain --set model.vision.init=" + r.runDir().resolve("encoder") + ")"
                : "  resume:   ./mm1 clip --out " + run.out + " --resume");
        return 0;
    }

    private static double pct(EncoderPretrainer.Result r, String key) {
        return 100 * r.summary().path("retrieval/" + key).asDouble();
    }

    /** A folder written by {@code mm1 data synth}: its train captions (held-out pairs split off by data.val_fraction). */
    static String synthCaptions(Path dir) {
        String d = dir.toAbsolutePath().normalize().toString().replace("\\", "/").replace("\"", "\\\"");
        if (!dir.resolve("manifest.json").toFile().isFile()) {
            throw new io.mm1j.Mm1Exception("--data " + dir + ": not a folder written by 'mm1 data synth' "
                    + "(manifest.json missing); list other image-text pairs in data.sources of a --config file");
        }
        return "[{\"name\":\"captions\",\"format\":\"coco\",\"path\":\"" + d + "/coco/captions_train.json\","
                + "\"images\":\"" + d + "/images/train\"}]";
    }

    /** One line every few seconds: step, loss, LR, images/s, ETA; one line per evaluation. */
    static final class Progress implements Pretrainer.Progress {
        private long total;
        private long first;
        private long t0;
        private long lastLine;

        @Override
        public void start(long fromStep, long totalSteps, String description) {
            total = totalSteps;
            first = fromStep;
            t0 = System.nanoTime();
            System.out.println(description + (fromStep > 0 ? " (resuming after step " + fromStep + ")" : ""));
        }

        @Override
        public void step(long step, Map<String, Double> m) {
            long now = System.nanoTime();
            if (now - lastLine > 5e9 || step == total || step == first + 1) {
                lastLine = now;
                double el = (now - t0) / 1e9;
                double eta = el / (step - first) * (total - step);
                System.out.printf(Locale.ROOT, "step %d/%d  loss %.4f  lr %.2e  grad %.2f%s  %.1f img/s  ETA %.0fs%n",
                        step, total, m.get("loss"), m.get("lr"), m.get("gradNorm"), m.containsKey("logitScale")
                                ? String.format(Locale.ROOT, "  scale %.1f", m.get("logitScale")) : "",
                        m.get("imagesPerSecond"), eta);
            }
        }

        @Override
        public void eval(long step, Map<String, Double> m) {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "step %d  validation loss %.4f", step,
                    m.get("valLoss")));
            if (m.containsKey("retrieval/t2i@1")) {
                sb.append(String.format(Locale.ROOT, "  image→text R@1 %.1f%% R@5 %.1f%%  text→image R@1 %.1f%% "
                                + "R@5 %.1f%%  (chance R@1 %.1f%% / %.1f%%)", 100 * m.get("retrieval/i2t@1"),
                        100 * m.get("retrieval/i2t@5"), 100 * m.get("retrieval/t2i@1"), 100 * m.get("retrieval/t2i@5"),
                        100 * m.get("retrieval/chance/i2t@1"), 100 * m.get("retrieval/chance/t2i@1")));
            }
            System.out.println(sb);
        }

        @Override
        public void finish() {
            // lines only: nothing to close
        }
    }
}
