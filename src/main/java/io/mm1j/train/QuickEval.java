package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.Sample;
import io.mm1j.data.SkipReport;
import io.mm1j.data.VqaReader;
import io.mm1j.eval.CiderD;
import io.mm1j.eval.PtbTokenizer;
import io.mm1j.eval.VqaAccuracy;
import io.mm1j.eval.VqaVariant;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.llm.DecodePath;
import io.mm1j.mllm.GenerationConfig;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Prompt;
import io.mm1j.mllm.TokenListener;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * 0-shot captioning (CIDEr-D) and VQA (VQA accuracy) on held-out items of a synthetic-world folder, with the
 * prompts pre-training used ({@code BOS <image>} for a caption, {@code BOS <image> Question: q Answer:} for VQA),
 * greedy decoding — the quick check MM1 chose recipes by. {@code blind} zeroes every image: the gap between the two
 * is what the model reads from pictures.
 */
public final class QuickEval {
    /** Scores and a few examples. */
    public record Scores(double cider, double vqa, int captions, int questions, List<String> examples) {}

    private QuickEval() {}

    /**
     * @param dataDir a folder written by {@code mm1 data synth} (its {@code split} part is used)
     * @param items   captions and questions scored (each)
     */
    public static Scores run(Mm1Model model, Tokenizer tok, Path dataDir, String split, int items, boolean blind) {
        int size = model.config().vision().imageSize();
        Function<java.awt.image.BufferedImage, float[]> pixels = Pretrainer.clipPixels(size);
        NDManager m = model.params().manager();
        int k = model.imageTokens();
        List<List<String>> candidates = new ArrayList<>();
        List<List<List<String>>> references = new ArrayList<>();
        List<String> examples = new ArrayList<>();
        try (CocoCaptionsReader r = new CocoCaptionsReader(dataDir.resolve("coco/captions_" + split + ".json"),
                dataDir.resolve("images/" + split), SkipReport.lenient())) {
            while (r.hasNext() && candidates.size() < items) {
                Sample.Caption c = (Sample.Caption) r.next();
                String text = greedy(model, tok, m, prompt(new long[0], k), pixels.apply(c.image().load()), size,
                        blind, 30);
                candidates.add(PtbTokenizer.tokenize(text));
                List<List<String>> refs = new ArrayList<>();
                c.captions().forEach(x -> refs.add(PtbTokenizer.tokenize(x)));
                references.add(refs);
                if (examples.size() < 3) {
                    examples.add(text + "   (reference: " + c.captions().get(0) + ")");
                }
            }
        }
        double cider = candidates.isEmpty() ? Double.NaN : CiderD.score(candidates, references);
        double acc = 0;
        int n = 0;
        Path q = dataDir.resolve("vqa/questions_" + split + ".json");
        try (VqaReader r = new VqaReader(q, dataDir.resolve("vqa/annotations_" + split + ".json"),
                dataDir.resolve("images/" + split), SkipReport.lenient())) {
            while (r.hasNext() && n < items) {
                Sample.Vqa v = (Sample.Vqa) r.next();
                long[] question = tok.encode("Question: " + v.question() + " Answer:");
                String answer = greedy(model, tok, m, prompt(question, k), pixels.apply(v.image().load()), size,
                        blind, 8).trim();
                acc += VqaAccuracy.question(VqaVariant.OFFICIAL, answer, VqaAccuracy.humans(v.answers()), v.id());
                n++;
            }
        }
        return new Scores(cider, n == 0 ? Double.NaN : 100 * acc / n, candidates.size(), n, examples);
    }

    /** BOS, k image slots, then {@code text}. */
    private static long[] prompt(long[] text, int k) {
        long[] ids = new long[1 + k + text.length];
        ids[0] = SpecialTokens.BOS_ID;
        Arrays.fill(ids, 1, 1 + k, SpecialTokens.IMAGE_ID);
        System.arraycopy(text, 0, ids, 1 + k, text.length);
        return ids;
    }

    private static String greedy(Mm1Model model, Tokenizer tok, NDManager m, long[] ids, float[] chw, int size,
                                 boolean blind, int maxTokens) {
        try (NDScope scope = new NDScope()) {
            NDArray px = m.create(chw, new Shape(1, 3, size, size));
            if (blind) {
                px = px.zerosLike();
            }
            int budget = Math.min(maxTokens, model.config().llm().maxPositions() - ids.length);
            NDArray embeds = model.inputEmbeddings(m.create(ids, new Shape(1, ids.length)), px,
                    SpecialTokens.IMAGE_ID); // (1, T, D): the caller's pixels (blind: zeros), not re-preprocessed
            String text = new Generator(model, tok, DecodePath.CPU).generate(Prompt.text(ids), embeds,
                    GenerationConfig.greedy(Math.max(1, budget)), TokenListener.NONE).text();
            scope.suppressNotUsedWarning();
            return text;
        }
    }

    /** The scores as metrics ({@code eval/cider@0}, {@code eval/vqa@0}). */
    public static Map<String, Double> metrics(Scores s, String suffix) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("eval/cider@0" + suffix, s.cider());
        m.put("eval/vqa@0" + suffix, s.vqa());
        return m;
    }
}
