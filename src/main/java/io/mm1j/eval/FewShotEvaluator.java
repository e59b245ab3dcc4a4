package io.mm1j.eval;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.llm.DecodePath;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.ImageEmbeddingCache;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.Prompt;
import io.mm1j.mllm.TokenListener;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.RgbImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Few-shot evaluation of a captioning, VQA or multiple-choice task (MM1 §4): for each query, seeded
 * demonstrations ({@link DemoSampler}), an interleaved prompt ({@link FewShotPrompt}), greedy decoding with the
 * task's {@link StopRule}, then the official results file and scores ({@link TaskScorer}, {@link MultipleChoice}).
 */
public final class FewShotEvaluator {
    /** The shot counts MM1 evaluates (§4, Table 3: 0-, 4- and 8-shot); others would not compare with it. */
    public static final List<Integer> SHOTS = List.of(0, 4, 8);

    /**
     * @param shots        demonstrations per prompt, one of {@link #SHOTS}
     * @param limit        evaluate the first {@code limit} queries (0 = all)
     * @param maxNewTokens answer length cap
     * @param circular     multiple choice: ask every rotation of the options (MMBench)
     * @param vqaVariant   the official VQA evaluation VQAv2 and OK-VQA are scored with
     */
    public record Settings(EvalTask task, int shots, long seed, int limit, int maxNewTokens, boolean circular,
            long maxPixels, VqaVariant vqaVariant) {
        public Settings {
            if (!SHOTS.contains(shots)) {
                throw new Mm1Exception("--shots must be 0, 4 or 8 (MM1's few-shot settings), got " + shots);
            }
            if (limit < 0) {
                throw new Mm1Exception("--limit must be >= 0, got " + limit);
            }
            if (maxNewTokens < 1) {
                throw new Mm1Exception("--max-new-tokens must be >= 1, got " + maxNewTokens);
            }
        }
    }

    /** What the run produced: metrics, counts and the stop ids used (for scores.json). */
    public record Outcome(ObjectNode metrics, int samples, int truncatedPrompts, Set<Integer> stopIds) {}

    private static final int IMAGE_CACHE = 64;

    private final Mm1Model model;
    private final Tokenizer tok;
    private final Settings s;
    private final Generator generator;
    private final ImageIoLoader loader;
    private final Map<Path, RgbImage> images = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Path, RgbImage> e) {
            return size() > IMAGE_CACHE; // demonstrations repeat across queries: decoded and encoded once
        }
    };

    public FewShotEvaluator(Mm1Model model, Tokenizer tok, NDManager manager, Settings s) {
        this(model, tok, manager, s, DecodePath.CPU);
    }

    /** @param path the decode path (the plain-Java CPU path by default) */
    public FewShotEvaluator(Mm1Model model, Tokenizer tok, NDManager manager, Settings s, DecodePath path) {
        if (!model.isMultimodal()) {
            throw new Mm1Exception("model '" + model.config().name() + "' is text-only; --task " + s.task().cliName()
                    + " needs images (use --task text)");
        }
        this.model = model;
        this.tok = tok;
        this.s = s;
        this.generator = new Generator(model, tok, path, new ImageEmbeddingCache(IMAGE_CACHE));
        this.loader = new ImageIoLoader(s.maxPixels());
    }

    /** The stop ids: EOS and BOS of the model, and the tokenizer's {@code <image>} and EOS. */
    public static Set<Integer> stopIds(Mm1Model model, Tokenizer tok) {
        Set<Integer> ids = new HashSet<>(model.config().llm().stopIds());
        for (String t : List.of(SpecialTokens.IMAGE, SpecialTokens.EOS, SpecialTokens.PAD)) {
            if (tok.specialId(t) >= 0) {
                ids.add(tok.specialId(t));
            }
        }
        return ids;
    }

    /**
     * Runs the evaluation, writing {@code results.json} and (when {@code samplesFile} is not null) one JSON line
     * per sample to {@code samplesFile}.
     */
    public Outcome run(EvalData data, Path resultsFile, Path samplesFile, Consumer<String> progress) {
        List<EvalExample> queries = s.limit() > 0 && s.limit() < data.eval().size()
                ? data.eval().subList(0, s.limit()) : data.eval();
        if (queries.isEmpty()) {
            throw new Mm1Exception("no evaluation items in the data");
        }
        int imageId = model.imageTokenId(tok);
        // each picture takes as many positions as the model's image pipeline gives it (LLaVA-NeXT: size-dependent)
        FewShotPrompt prompts = new FewShotPrompt(s.task().kind(), tok::encode, model.imageTokens(),
                e -> model.imagePipeline().tokens(image(e.image()).height(), image(e.image()).width()),
                model.config().llm().bosTokenId(), imageId);
        DemoSampler sampler = new DemoSampler(data.train(), s.seed());
        StopRule rule = new StopRule(stopIds(model, tok), true, s.maxNewTokens());
        boolean mc = s.task().kind() == EvalTask.Kind.MULTIPLE_CHOICE;
        List<ObjectNode> logs = new ArrayList<>();
        List<String> answers = new ArrayList<>();
        List<List<Boolean>> mcCorrect = new ArrayList<>();
        ArrayNode mcResults = JsonFiles.MAPPER.createArrayNode();
        int truncated = 0;
        Progress bar = new Progress(queries.size(), progress, s.task().cliName());
        for (EvalExample q : queries) {
            List<EvalExample> demos = sampler.sample(q, s.shots());
            int rotations = mc && s.circular() ? q.targets().size() : 1;
            List<Boolean> right = new ArrayList<>();
            ArrayNode letters = JsonFiles.MAPPER.createArrayNode();
            for (int r = 0; r < rotations; r++) {
                EvalExample query = mc ? MultipleChoice.rotate(q, r) : q;
                FewShotPrompt.Prompt p = prompts.build(demos, query, model.config().llm().maxPositions(),
                        s.maxNewTokens());
                truncated += p.demos().size() < demos.size() ? 1 : 0;
                StopRule.Output out = generate(p, query, rule, imageId);
                ObjectNode log = JsonFiles.MAPPER.createObjectNode().put("id", q.id()).put("prompt", p.text());
                p.demos().forEach(d -> log.withArray("demos").add(d.id()));
                log.put("output", out.text()).put("stop", out.reason().name().toLowerCase());
                if (mc) {
                    String letter = MultipleChoice.extract(out.text(), query.targets());
                    right.add(query.answer().equals(letter));
                    letters.add(letter == null ? "" : letter);
                    log.put("rotation", r).put("prediction", letter).put("answer", query.answer())
                            .put("score", query.answer().equals(letter) ? 1.0 : 0.0);
                } else {
                    answers.add(out.text());
                }
                logs.add(log);
            }
            if (mc) {
                mcCorrect.add(right);
                mcResults.addObject().put("question_id", q.id()).put("prediction", letters.get(0).asText())
                        .set("rotations", letters);
            }
            bar.step();
        }
        ObjectNode metrics;
        if (mc) {
            MultipleChoice.Scores sc = MultipleChoice.score(mcCorrect);
            metrics = JsonFiles.MAPPER.createObjectNode().put("accuracy", sc.accuracy());
            if (s.circular()) {
                metrics.put("circularAccuracy", sc.circularAccuracy());
            }
            metrics.put("questions", sc.questions());
            EvalReport.write(resultsFile, mcResults);
        } else {
            TaskScorer.Scored sc = TaskScorer.score(s.task(), s.vqaVariant(), queries, answers, resultsFile);
            for (int i = 0; i < logs.size(); i++) {
                logs.get(i).put("score", sc.perItem().get(i));
            }
            metrics = sc.metrics();
            EvalReport.write(resultsFile, sc.results());
        }
        if (samplesFile != null) {
            writeJsonl(samplesFile, logs);
        }
        return new Outcome(metrics, queries.size(), truncated, rule.stopIds());
    }

    /** Greedy decoding of one prompt through the shared {@link Generator} (batched prefill, KV cache). */
    private StopRule.Output generate(FewShotPrompt.Prompt p, EvalExample query, StopRule rule, int imageId) {
        List<RgbImage> pics = new ArrayList<>();
        p.demos().forEach(d -> pics.add(image(d.image())));
        pics.add(image(query.image()));
        int[] counts = new int[pics.size()];
        for (int i = 0; i < counts.length; i++) { // LLaVA-NeXT: each picture its own count
            counts[i] = model.imagePipeline().tokens(pics.get(i).height(), pics.get(i).width());
        }
        Generator.Result r = generator.generate(new Prompt(p.ids(), pics, counts, imageId), rule.config(),
                TokenListener.NONE);
        return rule.outcome(r);
    }

    private RgbImage image(Path file) {
        return images.computeIfAbsent(file, loader::load);
    }

    static void writeJsonl(Path file, List<ObjectNode> lines) {
        StringBuilder sb = new StringBuilder();
        for (ObjectNode l : lines) {
            sb.append(l.toString()).append('\n');
        }
        try {
            Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot write: " + e.getMessage(), e);
        }
    }
}
