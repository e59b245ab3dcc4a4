package io.mm1j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.config.VisionConfig;
import io.mm1j.data.Scene;
import io.mm1j.data.SyntheticWorld;
import io.mm1j.eval.CiderD;
import io.mm1j.eval.PtbTokenizer;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.Sampler;
import io.mm1j.tokenizer.BpeTrainer;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.train.AdamW;
import io.mm1j.train.LmStep;
import io.mm1j.train.Losses;
import io.mm1j.train.MetricsLog;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.ImagePreprocessor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Demo step: a tiny MM1 (ViT → average-pool connector → Llama) learns to caption the synthetic world from scratch,
 * and is scored with CIDEr-D on held-out images — the whole MM1 path (synthetic data → BPE tokenizer → image
 * preprocessing → splicing → training → greedy captioning → coco-caption metrics) in about a minute on 2 cores.
 */
final class CaptionDemo {
    private static final int TRAIN = 480;
    private static final int VAL = 32;
    private static final int MAX_CAPTION = 40;

    private CaptionDemo() {}

    record Example(NDArray pixels, List<String> captions) {}

    static void run(NDManager root, int steps, int seed, MetricsLog metrics) throws IOException {
        SyntheticWorld world = new SyntheticWorld(seed);
        VisionConfig vision = new VisionConfig(48, 6, 64, 2, 4, 128, "gelu", 1e-5, -1);
        int size = vision.imageSize();
        ImagePreprocessor pre = new ImagePreprocessor(root, size);
        List<Example> train = new ArrayList<>();
        List<Example> val = new ArrayList<>();
        StringBuilder corpus = new StringBuilder();
        for (int i = 0; i < TRAIN + VAL; i++) {
            Scene s = world.scene(i);
            List<String> caps = world.captions(s, world.random("caption", i));
            NDArray px = pre.preprocess(ImageIoLoader.toRgb(s.render(size * 2))); // (3, S, S), downscaled like a photo
            (i < TRAIN ? train : val).add(new Example(px, caps));
            if (i < TRAIN) {
                caps.forEach(c -> corpus.append(c).append('\n'));
            }
        }
        Path tokFile = Files.createTempFile("mm1-demo-tokenizer", ".json");
        Tokenizer tok;
        try {
            new BpeTrainer(600, 2).add(corpus.toString()).train().write(tokFile);
            tok = Tokenizer.load(tokFile);
        } finally {
            Files.deleteIfExists(tokFile);
        }
        ConnectorConfig connector = new ConnectorConfig("avgpool", 16, 1);
        LlmConfig llm = new LlmConfig(tok.vocabSize(), 128, 320, 2, 4, 2, 32, 96, 1e-5, 10000.0, true,
                SpecialTokens.BOS_ID, SpecialTokens.EOS_ID, null);
        Mm1Config cfg = new Mm1Config("demo-caption", "tiny MM1 for the demo", llm, vision, connector, 16);
        int k = connector.imageTokens();
        int t = 1 + k + MAX_CAPTION + 1;
        System.out.printf(Locale.ROOT, "4. A tiny MM1 (ViT %dpx/%d layers → avg-pool connector, %d image tokens → "
                        + "Llama d=%d) learns to caption the synthetic world: %s params, %d training images × 5 "
                        + "captions, BPE vocab %d%n", size, vision.layers(), k, llm.hiddenSize(),
                InfoCommand.human(ParamCount.all(cfg).get("total")), TRAIN, tok.vocabSize());
        SplittableRandom rnd = new SplittableRandom(seed);
        try (Mm1Model model = Mm1Model.init(cfg, root, DataType.FLOAT32); AdamW opt = AdamW.standard(model.params())) {
            model.params().enableGradients();
            long t0 = System.nanoTime();
            int batch = 16;
            double smooth = 0;
            for (int s = 0; s < steps; s++) {
                List<Example> picked = new ArrayList<>();
                List<String> caps = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    Example e = train.get(rnd.nextInt(TRAIN));
                    picked.add(e);
                    caps.add(target(e));
                }
                double lr = DemoCommand.cosine(s, steps, 30, 2e-3);
                try (NDScope scope = new NDScope()) {
                    Batch bt = batch(root, tok, picked, caps, k, t, false);
                    double loss = LmStep.run(() -> model.forward(bt.input, bt.pixels, SpecialTokens.IMAGE_ID), opt,
                            bt.target, bt.mask, lr, 0.01, 1.0).loss();
                    smooth = s == 0 ? loss : 0.9 * smooth + 0.1 * loss;
                    metrics.log(s, java.util.Map.of("caption.loss", loss, "caption.lr", lr));
                    scope.suppressNotUsedWarning();
                }
                if ((s + 1) % 100 == 0 || s == 0) {
                    double el = (System.nanoTime() - t0) / 1e9;
                    System.out.printf(Locale.ROOT, "   step %4d/%d  caption loss %.3f  %.1f steps/s  ETA %.0fs%n",
                            s + 1, steps, smooth, (s + 1) / el, (steps - s - 1) * el / (s + 1));
                }
            }
            evaluate(model, tok, val, k, t, root);
        } finally {
            tok.close();
        }
    }

    private static void evaluate(Mm1Model model, Tokenizer tok, List<Example> val, int k, int t, NDManager root) {
        List<String> caps = new ArrayList<>();
        val.forEach(e -> caps.add(target(e)));
        double seen;
        double blind;
        try (NDScope scope = new NDScope()) {
            Batch withImages = batch(root, tok, val, caps, k, t, false);
            Batch zeroed = batch(root, tok, val, caps, k, t, true);
            seen = loss(model, withImages);
            blind = loss(model, zeroed);
            scope.suppressNotUsedWarning();
        }
        System.out.printf(Locale.ROOT, "   held-out caption loss %.3f with the images, %.3f with the images blanked "
                + "(the model reads the pictures)%n", seen, blind);
        List<List<String>> candidates = new ArrayList<>();
        List<List<List<String>>> references = new ArrayList<>();
        List<String> generated = new ArrayList<>();
        for (Example e : val) {
            long[] ids = new long[1 + k];
            ids[0] = SpecialTokens.BOS_ID;
            for (int i = 1; i <= k; i++) {
                ids[i] = SpecialTokens.IMAGE_ID;
            }
            String text;
            try (NDScope scope = new NDScope()) {
                NDArray emb = model.inputEmbeddings(root.create(ids, new Shape(1, ids.length)),
                        e.pixels().expandDims(0), SpecialTokens.IMAGE_ID);
                text = GenerateCommand.stream(model.decoder(), tok, ids, emb, MAX_CAPTION, Sampler.ARGMAX, x -> { })
                        .trim();
                scope.suppressNotUsedWarning();
            }
            generated.add(text);
            candidates.add(PtbTokenizer.tokenize(text));
            List<List<String>> refs = new ArrayList<>();
            e.captions().forEach(c -> refs.add(PtbTokenizer.tokenize(c)));
            references.add(refs);
        }
        double cider = CiderD.score(candidates, references);
        System.out.printf(Locale.ROOT, "   CIDEr-D on %d held-out images (greedy, 5 references each): %.3f%n",
                val.size(), cider);
        for (int i = 0; i < 3; i++) {
            System.out.println("   image " + (TRAIN + i) + ": » " + generated.get(i));
            System.out.println("              ref " + target(val.get(i)));
        }
        System.out.println();
    }

    /**
     * The training caption: the "there is/are … in this image." template of the five references. One template
     * keeps a model this small busy with what matters — which shapes, colours and how many — instead of spending
     * its capacity on guessing the phrasing; CIDEr is still computed against all five references.
     */
    private static String target(Example e) {
        return e.captions().stream().filter(c -> c.startsWith("there ")).findFirst().orElse(e.captions().get(0));
    }

    private static double loss(Mm1Model model, Batch b) {
        NDArray logits = model.forward(b.input, b.pixels, SpecialTokens.IMAGE_ID).logits();
        return Losses.crossEntropy(logits, b.target, b.mask).toType(DataType.FLOAT64, false).getDouble();
    }

    /** BOS, k image slots, caption, EOS, padding; loss on caption and EOS only. */
    private record Batch(NDArray input, NDArray target, NDArray mask, NDArray pixels) {}

    private static Batch batch(NDManager m, Tokenizer tok, List<Example> ex, List<String> caps, int k, int t,
                               boolean blank) {
        int n = ex.size();
        long[] ids = new long[n * (t + 1)];
        float[] mask = new float[n * t];
        NDList px = new NDList();
        for (int b = 0; b < n; b++) {
            long[] cap = tok.encode(caps.get(b));
            int len = Math.min(cap.length, MAX_CAPTION);
            int o = b * (t + 1);
            ids[o] = SpecialTokens.BOS_ID;
            for (int i = 1; i <= k; i++) {
                ids[o + i] = SpecialTokens.IMAGE_ID;
            }
            System.arraycopy(cap, 0, ids, o + 1 + k, len);
            ids[o + 1 + k + len] = SpecialTokens.EOS_ID;
            for (int i = k; i <= k + len; i++) { // positions whose next token is a caption token or EOS
                mask[b * t + i] = 1;
            }
            px.add(blank ? ex.get(b).pixels().zerosLike() : ex.get(b).pixels());
        }
        NDArray all = m.create(ids, new Shape(n, t + 1));
        return new Batch(all.get(":, :-1"), all.get(":, 1:"), m.create(mask, new Shape(n, t)), NDArrays.stack(px));
    }
}
