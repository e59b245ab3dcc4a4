package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.Sample;
import io.mm1j.data.SkipReport;
import io.mm1j.data.VqaReader;
import io.mm1j.Mm1Exception;
import io.mm1j.eval.CiderD;
import io.mm1j.eval.DemoSampler;
import io.mm1j.eval.EvalData;
import io.mm1j.eval.EvalTask;
import io.mm1j.eval.FewShotEvaluator;
import io.mm1j.eval.FewShotPrompt;
import io.mm1j.eval.PtbTokenizer;
import io.mm1j.eval.VqaAccuracy;
import io.mm1j.eval.VqaVariant;
import io.mm1j.io.JsonFiles;
import io.mm1j.io.OutputDir;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.llm.DecodePath;
import io.mm1j.mllm.GenerationConfig;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Prompt;
import io.mm1j.mllm.TokenListener;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImageIoLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Quick held-out evaluation during pre-training, as MM1 chose recipes by: {@link #evaluate} scores k-shot
 * captioning and VQA with the few-shot machinery of {@code mm1 eval} ({@code eval/cider@k}, {@code eval/vqa@k});
 * {@link #run} is the 0-shot check of the demo report with and without the pictures.
 *
 * <p>{@link #run}: 0-shot captioning (CIDEr-D) and VQA (VQA accuracy) on held-out items of a synthetic-world folder, with the
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

    /**
     * k-shot scores of one evaluation: {@code shots} demonstrations per prompt.
     *
     * @param truncatedPrompts prompts that dropped demonstrations to fit the model's context (captions and VQA)
     * @param examples         a few captions with their first reference
     */
    public record Result(int shots, double cider, double vqa, int captions, int questions, int truncatedPrompts,
                         List<String> examples) {
        /** The scores as metrics: {@code eval/cider@k}, {@code eval/vqa@k}. */
        public Map<String, Double> metrics() {
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("eval/cider@" + shots, cider);
            m.put("eval/vqa@" + shots, vqa);
            return m;
        }
    }

    /** {@link #evaluate(Mm1Model, Tokenizer, Path, String, int, int, long)} on the world's {@code val} split. */
    public static Result evaluate(Mm1Model model, Tokenizer tok, Path dataDir, int shots, int items, long seed) {
        return evaluate(model, tok, dataDir, "val", shots, items, seed);
    }

    /**
     * k-shot captioning (CIDEr-D) and VQA (VQAv2 accuracy, official variant) on the first {@code items} captions
     * and questions of a synthetic world's {@code split}, exactly as {@code mm1 eval --task coco-captions|vqav2
     * --data DIR --split SPLIT --shots K --limit ITEMS --seed SEED} scores them: MM1's interleaved few-shot prompts
     * ({@link FewShotPrompt}) with demonstrations drawn from the world's train split ({@link DemoSampler}: seeded
     * per query, never the query's picture), greedy decoding with the eval stop rule.
     *
     * @param dataDir a folder written by {@code mm1 data synth} (or a run's {@code data/})
     * @param shots   demonstrations per prompt: 0, 4 or 8 (MM1's settings)
     * @param items   captions and questions scored (each); at least 1
     */
    public static Result evaluate(Mm1Model model, Tokenizer tok, Path dataDir, String split, int shots, int items,
                                  long seed) {
        if (items < 1) {
            throw new Mm1Exception("quick evaluation: items must be >= 1, got " + items);
        }
        if (!EvalData.isSynthetic(dataDir)) {
            throw new Mm1Exception(dataDir + ": not a synthetic world (no manifest.json); quick evaluation reads "
                    + "the folder `mm1 data synth` writes");
        }
        Path tmp;
        try {
            tmp = Files.createTempDirectory("mm1-quickeval");
        } catch (IOException e) {
            throw new Mm1Exception("quick evaluation: cannot create a temporary folder: " + e.getMessage(), e);
        }
        try {
            EvalData.Source src = new EvalData.Source(dataDir, null, null, null, null, null, split, tmp, seed);
            FewShotEvaluator.Outcome cap = task(model, tok, EvalTask.COCO_CAPTIONS, src, shots, items, seed, tmp);
            FewShotEvaluator.Outcome vqa = task(model, tok, EvalTask.VQAV2, src, shots, items, seed, tmp);
            List<String> examples = new ArrayList<>();
            for (String line : Files.readAllLines(tmp.resolve("coco-captions.samples.jsonl"))) {
                if (examples.size() == 3) {
                    break;
                }
                examples.add(JsonFiles.MAPPER.readTree(line).path("output").asText());
            }
            return new Result(shots, cap.metrics().path("CIDEr").asDouble(Double.NaN),
                    vqa.metrics().path("overall").asDouble(Double.NaN), cap.samples(), vqa.samples(),
                    cap.truncatedPrompts() + vqa.truncatedPrompts(), examples);
        } catch (IOException e) {
            throw new Mm1Exception(tmp + ": cannot read the evaluation samples: " + e.getMessage(), e);
        } finally {
            try {
                OutputDir.deleteTree(tmp);
            } catch (IOException e) {
                tmp.toFile().deleteOnExit(); // a leftover temporary folder is not worth failing the run over
            }
        }
    }

    private static FewShotEvaluator.Outcome task(Mm1Model model, Tokenizer tok, EvalTask task, EvalData.Source src,
                                                 int shots, int items, long seed, Path tmp) {
        FewShotEvaluator.Settings s = new FewShotEvaluator.Settings(task, shots, seed, items,
                task.defaultMaxNewTokens(), false, ImageIoLoader.DEFAULT_MAX_PIXELS, VqaVariant.OFFICIAL);
        FewShotEvaluator ev = new FewShotEvaluator(model, tok, model.params().manager(), s);
        return ev.run(EvalData.load(task, src), tmp.resolve(task.cliName() + ".results.json"),
                tmp.resolve(task.cliName() + ".samples.jsonl"), line -> { });
    }

    /** The scores as metrics ({@code eval/cider@0}, {@code eval/vqa@0}). */
    public static Map<String, Double> metrics(Scores s, String suffix) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("eval/cider@0" + suffix, s.cider());
        m.put("eval/vqa@0" + suffix, s.vqa());
        return m;
    }
}
