package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.eval.EvalData;
import io.mm1j.eval.EvalReport;
import io.mm1j.eval.EvalTask;
import io.mm1j.eval.FewShotEvaluator;
import io.mm1j.eval.FewShotPrompt;
import io.mm1j.eval.TextPerplexity;
import io.mm1j.eval.VqaVariant;
import io.mm1j.io.JsonFiles;
import io.mm1j.io.OutputDir;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.Mm1Exception;
import io.mm1j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code mm1 eval}: MM1-style few-shot evaluation (MM1 §4) of a model folder on a benchmark in its native format or
 * on the synthetic world, writing the official results file, {@code scores.json} (everything needed to reproduce
 * the figure) and, with {@code --log-samples}, {@code samples.jsonl}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Few-shot evaluation (0/4/8 shots, interleaved <image> prompts, greedy decoding) with the "
                + "official metrics; text-only perplexity with --task text.")
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model folder (mm1j or HF Llama for --task text).")
    Path model;

    @Option(names = "--task", required = true, description = "coco-captions, nocaps, textcaps, vqav2, okvqa, "
            + "textvqa, vizwiz, gqa, mc (multiple choice) or text.")
    String task;

    @Option(names = "--shots", defaultValue = "0", description = "Demonstrations per prompt: 0, 4 or 8 (MM1's "
            + "settings; default ${DEFAULT-VALUE}).")
    int shots;

    @Option(names = "--data", required = true, description = "Benchmark file in its native format, a synthetic "
            + "world folder (mm1 data synth), or a text file for --task text.")
    Path data;

    @Option(names = "--train-data", description = "Demonstration pool file (same format as --data).")
    Path trainData;

    @Option(names = "--images", description = "Image folder of --data (default: images/ next to it).")
    Path images;

    @Option(names = "--train-images", description = "Image folder of --train-data (default: --images).")
    Path trainImages;

    @Option(names = "--annotations", description = "VQAv2/OK-VQA annotations of --data (default: derived from the "
            + "questions file name).")
    Path annotations;

    @Option(names = "--train-annotations", description = "VQAv2/OK-VQA annotations of --train-data.")
    Path trainAnnotations;

    @Option(names = "--split", defaultValue = "val", description = "Synthetic world split to evaluate (default "
            + "${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--out", required = true, description = "Results folder (created; an existing non-empty one "
            + "only with --overwrite).")
    Path out;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder (once the new results are "
            + "complete).")
    boolean overwrite;

    @Mixin
    ScoreCommand.VariantOption variant;

    @Option(names = "--seed", defaultValue = "0", description = "Demonstration sampling seed (default "
            + "${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--limit", defaultValue = "0", description = "Evaluate the first N items (text: tokens); 0 = all.")
    int limit;

    @Option(names = "--log-samples", description = "Write samples.jsonl: prompt, demonstration ids, output, score.")
    boolean logSamples;

    @Option(names = "--max-new-tokens", description = "Answer length cap (default: captions 30, VQA 10, mc 5).")
    Integer maxNewTokens;

    @Option(names = "--circular", description = "Multiple choice: MMBench circular evaluation (every rotation of "
            + "the options must be answered right).")
    boolean circular;

    @Option(names = "--context", description = "Text: window length (default: the model's maxPositions).")
    Integer context;

    @Option(names = "--stride", description = "Text: window step (default: half the window).")
    Integer stride;

    @Option(names = "--template", defaultValue = "pretrain", description = "Prompt layout: pretrain (MM1's "
            + "interleaved few-shot prompts, default) or chat (through the model's chat template, for SFT models).")
    String template;

    @Option(names = "--max-pixels", defaultValue = "89478485", description = "Refuse larger images (default "
            + "${DEFAULT-VALUE}).")
    long maxPixels;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() throws IOException {
        device.use();
        EvalTask t = EvalTask.parse(task);
        if (!template.equals("pretrain") && !template.equals("chat")) {
            throw new Mm1Exception("--template must be pretrain or chat, got " + template);
        }
        VqaVariant vqa = variant.variant();
        FewShotEvaluator.Settings settings = null;
        if (t == EvalTask.TEXT) {
            if (limit < 0) {
                throw new Mm1Exception("--limit must be >= 0, got " + limit);
            }
        } else { // checked before the model loads
            settings = new FewShotEvaluator.Settings(t, shots, seed, limit,
                    maxNewTokens != null ? maxNewTokens : t.defaultMaxNewTokens(), circular, maxPixels, vqa);
        }
        Consumer<String> progress = line -> System.err.println(line);
        OutputDir.refuseOverInput(out, "--out", model, "--model");
        OutputDir.refuseOverInput(out, "--out", data, "--data");
        try (OutputDir od = OutputDir.create(out, overwrite, "--out");
             NDManager root = Engines.newRootManager((int) seed);
             Tokenizer tok = Tokenizer.load(model.resolve("tokenizer.json"));
             Mm1Model mm = Mm1Model.load(model, root, DataType.FLOAT32)) {
            Path dir = od.staging();
            ObjectNode scores = JsonFiles.MAPPER.createObjectNode().put("task", t.cliName());
            scores.set("model", EvalReport.model(model, mm.config().name()));
            if (t == EvalTask.TEXT) {
                text(mm, tok, scores, progress);
            } else {
                EvalData d = EvalData.load(t, new EvalData.Source(data, trainData, images, trainImages, annotations,
                        trainAnnotations, split, dir, seed));
                scores.set("data", EvalReport.data(d.files(), dir, od.target()));
                scores.put("demonstrations", d.demoSource());
                io.mm1j.mllm.ChatTemplate chat = template.equals("chat")
                        ? io.mm1j.mllm.ChatTemplate.forModel(model, tok) : null;
                scores.putObject("prompt").put("template", chat != null ? "chat: " + chat.origin()
                                : FewShotPrompt.template(t.kind()))
                        .put("imageTokens", mm.imageTokens()).put("bos", true);
                scores.put("shots", shots).put("seed", seed).put("limit", limit).put("split", split);
                FewShotEvaluator ev = new FewShotEvaluator(mm, tok, root, settings).withChatTemplate(chat);
                FewShotEvaluator.Outcome o = ev.run(d, dir.resolve("results.json"),
                        logSamples ? dir.resolve("samples.jsonl") : null, progress);
                ObjectNode dec = scores.putObject("decoding").put("strategy", "greedy")
                        .put("maxNewTokens", settings.maxNewTokens()).put("stopAtNewline", true);
                o.stopIds().stream().sorted().forEach(dec.putArray("stopIds")::add);
                if (t == EvalTask.MC) {
                    scores.put("scoring", "answer-letter extraction from the generation"
                            + (circular ? ", circular over option rotations" : ""));
                }
                scores.set("metrics", o.metrics());
                scores.put("samples", o.samples()).put("truncatedPrompts", o.truncatedPrompts())
                        .put("results", "results.json");
                if (o.truncatedPrompts() > 0) { // the score is then not a --shots score for those items
                    System.err.println("mm1: warning: " + o.truncatedPrompts() + " of " + o.samples() + " prompts "
                            + "dropped demonstrations to fit the model's context of " + mm.config().llm().maxPositions()
                            + " positions, so they had fewer than --shots " + shots + " (truncatedPrompts in "
                            + "scores.json)");
                }
            }
            EvalReport.write(dir.resolve("scores.json"), scores);
            od.commit();
            System.out.println(summary(t, scores.get("metrics")));
        }
        return 0;
    }

    private void text(Mm1Model mm, Tokenizer tok, ObjectNode scores, Consumer<String> progress) throws IOException {
        Path file = EvalData.isSynthetic(data) ? data.resolve("text/" + split + ".txt") : data;
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": file not found");
        }
        long[] ids = tok.encode(Files.readString(file));
        if (limit > 0 && limit < ids.length) {
            ids = Arrays.copyOf(ids, limit);
        }
        int window = context != null ? context : mm.config().llm().maxPositions();
        int step = stride != null ? stride : Math.max(1, window / 2);
        long total = ids.length;
        long t0 = System.nanoTime();
        long[] last = {t0};
        TextPerplexity.Result r = TextPerplexity.evaluate(mm.decoder(), ids, mm.config().llm().bosTokenId(), window,
                step, done -> {
                    long now = System.nanoTime();
                    if (now - last[0] > 10_000_000_000L || done == total) {
                        last[0] = now;
                        double el = (now - t0) / 1e9;
                        progress.accept(String.format(Locale.ROOT, "text: %d/%d tokens, %.0f tok/s, ETA %.0fs", done,
                                total, done / el, (total - done) / (done / el)));
                    }
                });
        scores.set("data", EvalReport.data(java.util.List.of(new EvalData.DataFile("eval", file))));
        scores.put("limit", limit);
        scores.putObject("window").put("context", window).put("stride", step).put("bosPerWindow", true);
        scores.putObject("metrics").put("perplexity", r.perplexity()).put("meanNll", r.meanNll())
                .put("tokens", r.tokens()).put("windows", r.windows());
    }

    private static String summary(EvalTask t, com.fasterxml.jackson.databind.JsonNode m) {
        StringBuilder sb = new StringBuilder(t.cliName());
        m.properties().forEach(e -> {
            if (e.getValue().isIntegralNumber()) { // counts as counts, not "12.00"
                sb.append("  ").append(e.getKey()).append(' ').append(e.getValue().asLong());
            } else if (e.getValue().isNumber()) {
                sb.append(String.format(Locale.ROOT, "  %s %.4g", e.getKey(), e.getValue().asDouble()));
            }
        });
        return sb.toString();
    }
}
