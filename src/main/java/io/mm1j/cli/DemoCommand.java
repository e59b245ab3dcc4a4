package io.mm1j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Sampler;
import io.mm1j.tensor.Engines;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.train.AdamW;
import io.mm1j.train.LmStep;
import io.mm1j.train.MetricsLog;
import io.mm1j.train.Plots;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mm1 demo}: what mm1j does so far, end to end, on embedded defaults: the MM1 preset table (counts from
 * configs, nothing allocated), a tiny Llama trained from scratch on an embedded text until it reproduces it,
 * — when {@code shared/data} is present — the real pretrained stories260k Llama generating a story, and a tiny MM1
 * that learns to caption synthetic images and is scored with CIDEr-D.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the end-to-end demo on embedded defaults (no downloads, no shared data needed).")
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--steps", defaultValue = "300", description = "Training steps for the tiny model (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--caption-steps", defaultValue = "600", description = "Training steps for the tiny MM1 "
            + "captioner (default ${DEFAULT-VALUE}).")
    int captionSteps;

    @Option(names = "--data", description = "Shared data folder (default: $MM1_DATA, ../shared/data or shared/data).")
    Path data;

    @Option(names = "--seed", defaultValue = "7", description = "Seed (default ${DEFAULT-VALUE}).")
    int seed;

    @Option(names = "--out", defaultValue = "runs/demo", description = "Where metrics.jsonl and plots/loss.png go "
            + "(default ${DEFAULT-VALUE}).")
    Path out;

    @Override
    public Integer call() throws IOException {
        System.out.println("== mm1j demo ==");
        System.out.println();
        presetTable();
        try (NDManager root = Engines.newRootManager(seed); MetricsLog metrics = new MetricsLog(
                out.resolve("metrics.jsonl"))) {
            trainTiny(root, metrics);
            storiesIfPresent(root);
            CaptionDemo.run(root, captionSteps, seed, metrics);
            Path png = out.resolve("plots").resolve("loss.png");
            Map<String, List<double[]>> curves = new LinkedHashMap<>();
            curves.put("tiny Llama, embedded text (bytes)", metrics.series("text.loss"));
            curves.put("tiny MM1, synthetic captions (BPE)", metrics.series("caption.loss"));
            Plots.lines(png, "mm1j demo: training loss", "cross-entropy (nats/token)", curves, true);
            System.out.println("metrics: " + metrics.file() + "   plot: " + png);
        }
        return 0;
    }

    private static void presetTable() {
        System.out.println("1. MM1 presets (parameter counts from the configs; nothing allocated)");
        System.out.printf(Locale.ROOT, "   %-14s %10s %10s %10s %10s %11s%n", "preset", "total", "LLM", "vision",
                "active", "MM1 peak LR");
        for (String name : Presets.NAMES) {
            Mm1Config c = Presets.load(name);
            var counts = ParamCount.all(c);
            System.out.printf(Locale.ROOT, "   %-14s %10s %10s %10s %10s %11.3g%n", name,
                    InfoCommand.human(counts.get("total")), InfoCommand.human(counts.get("llm")),
                    InfoCommand.human(counts.getOrDefault("vision", 0L)), InfoCommand.human(counts.get("active")),
                    InfoCommand.describe(c).get("lr").get("peak").asDouble());
        }
        System.out.println();
    }

    /** Byte-level LM (ids = byte + 3; 0 pad, 1 BOS, 2 EOS) on the embedded text: the loss must really fall. */
    private void trainTiny(NDManager root, MetricsLog metrics) throws IOException {
        byte[] text = readResource("/demo/mm1_abstract.txt");
        int vocab = 259;
        int seq = 128;
        int batch = 8;
        LlmConfig c = new LlmConfig(vocab, 96, 256, 2, 4, 2, 24, 256, 1e-5, 10000.0, true, 1, 2, null);
        System.out.printf(Locale.ROOT, "2. Training a tiny Llama (d=%d, %d layers, GQA %d/%d heads, %s params) from "
                        + "scratch on %d bytes of embedded text%n", c.hiddenSize(), c.numLayers(), c.numHeads(),
                c.numKvHeads(), InfoCommand.human(ParamCount.llm(c).total()), text.length);
        Decoder d = Decoder.init(c, root, DataType.FLOAT32);
        d.params().enableGradients();
        SplittableRandom rnd = new SplittableRandom(seed);
        double first = 0;
        double last = 0;
        long t0 = System.nanoTime();
        try (AdamW opt = AdamW.standard(d.params())) {
            for (int s = 0; s < steps; s++) {
                long[] buf = new long[batch * (seq + 1)];
                for (int b = 0; b < batch; b++) {
                    // circular windows: every position of the text is seen equally often, the start included
                    int off = rnd.nextInt(text.length);
                    for (int i = 0; i <= seq; i++) {
                        buf[b * (seq + 1) + i] = (text[(off + i) % text.length] & 0xff) + 3;
                    }
                }
                double lr = cosine(s, steps, 20, 3e-3);
                try (NDScope scope = new NDScope()) {
                    NDArray tokens = root.create(buf, new Shape(batch, seq + 1));
                    last = LmStep.run(d, opt, tokens.get(":, :-1"), tokens.get(":, 1:"), null, lr, 0.01, 1.0).loss();
                    scope.suppressNotUsedWarning();
                }
                if (s == 0) {
                    first = last;
                }
                metrics.log(s, Map.of("text.loss", last, "text.lr", lr));
                if (s % 50 == 0 || s == steps - 1) {
                    double el = (System.nanoTime() - t0) / 1e9;
                    System.out.printf(Locale.ROOT, "   step %4d/%d  loss %.3f  lr %.2e  %.1f steps/s%n", s + 1, steps,
                            last, lr, (s + 1) / el);
                }
            }
        }
        System.out.printf(Locale.ROOT, "   loss %.3f → %.3f (uniform over bytes would be %.3f)%n", first, last,
                Math.log(vocab));
        String promptText = new String(text, 0, 32, StandardCharsets.UTF_8);
        long[] prompt = new long[32]; // no BOS: training windows start anywhere in the text and never saw one
        for (int i = 0; i < 32; i++) {
            prompt[i] = (text[i] & 0xff) + 3;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // stay within the trained context (RoPE does not extrapolate far beyond it)
        new Generator(d).generate(prompt, seq - prompt.length, Sampler.ARGMAX, Set.of(0, 1, 2), id -> out.write(id - 3));
        System.out.println("   greedy continuation of \"" + promptText + "\":");
        System.out.println("   » " + out.toString(StandardCharsets.UTF_8).replace("\n", " "));
        System.out.println();
        d.close();
    }

    private void storiesIfPresent(NDManager root) {
        Path dir = findData();
        Path stories = dir == null ? null : dir.resolve("stories260k");
        System.out.println("3. A real pretrained Llama from Hugging Face format (stories260k: GQA, tied embeddings)");
        if (stories == null || !Files.isRegularFile(stories.resolve("model.safetensors"))) {
            System.out.println("   (skipped: shared data not found; pass --data DIR or set MM1_DATA)");
            return;
        }
        try (Tokenizer tok = Tokenizer.load(stories.resolve("tokenizer.json"))) {
            Decoder d = HfLlama.load(stories, root, DataType.FLOAT32);
            System.out.print("   » ");
            long t0 = System.nanoTime();
            String text = GenerateCommand.generate(d, tok, "", 120, Sampler.ARGMAX,
                    piece -> System.out.print(piece.replace("\n", "\n     ")));
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.println();
            System.out.printf(Locale.ROOT, "   (%d characters, greedy, %.1f s)%n", text.length(), s);
            d.close();
        }
    }

    private Path findData() {
        if (data != null) {
            return data;
        }
        String env = System.getenv("MM1_DATA");
        for (String p : new String[] {env, "../shared/data", "shared/data"}) {
            if (p != null && Files.isDirectory(Path.of(p))) {
                return Path.of(p);
            }
        }
        return null;
    }

    /** Linear warm-up then cosine decay to 10% of the peak (MM1 §2 schedule shape). */
    static double cosine(int step, int total, int warmup, double peak) {
        if (step < warmup) {
            return peak * (step + 1) / warmup;
        }
        double progress = (step - warmup) / (double) Math.max(1, total - warmup);
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
    }

    private static byte[] readResource(String name) throws IOException {
        try (InputStream in = DemoCommand.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing resource " + name);
            }
            return in.readAllBytes();
        }
    }
}
