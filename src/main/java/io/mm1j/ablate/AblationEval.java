package io.mm1j.ablate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.eval.EvalData;
import io.mm1j.eval.EvalTask;
import io.mm1j.eval.FewShotEvaluator;
import io.mm1j.eval.TextPerplexity;
import io.mm1j.eval.VqaVariant;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.JsonFiles;
import io.mm1j.mllm.ChatTemplate;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImageIoLoader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The evaluation of one ablation run, with per-item scores kept for the bootstrap: 0/4/8-shot captioning (CIDEr-D
 * ×100 per image) and VQA (VQAv2 accuracy in %, official variant) on the first {@code items} held-out captions and
 * questions of a synthetic world, through {@code mm1 eval}'s few-shot machinery ({@link FewShotEvaluator}: MM1's
 * interleaved prompts, demonstrations from the world's train split, greedy decoding), plus text perplexity on its
 * first held-out text documents ({@link TextPerplexity}, one document per item: NLL sum and token count).
 *
 * <p>The scores go to {@code ablate-eval.json} in the run folder (with the results and samples files of every task
 * under {@code ablate-eval/}), so a resumed study reuses them.
 */
public final class AblationEval {
    public static final List<Integer> SHOTS = FewShotEvaluator.SHOTS;
    static final String FILE = "ablate-eval.json";
    /** Text positions per perplexity window (documents are shorter; a longer one is scored in strided windows). */
    static final int TEXT_WINDOW = 256;

    /** Per-item scores of one run. */
    public record Result(Map<String, double[]> items, double[] textNll, double[] textTokens, double seconds,
                         int truncatedPrompts) {
        /** Mean of a group's items (CIDEr-D ×100, VQA %), or the text perplexity for {@code text}. */
        public double mean(String group) {
            if (group.equals("text")) {
                double n = 0;
                double t = 0;
                for (int i = 0; i < textNll.length; i++) {
                    n += textNll[i];
                    t += textTokens[i];
                }
                return Math.exp(n / t);
            }
            double[] x = items.get(group);
            double s = 0;
            for (double v : x) {
                s += v;
            }
            return s / x.length;
        }

        ObjectNode toJson() {
            ObjectNode o = JsonFiles.MAPPER.createObjectNode();
            ObjectNode it = o.putObject("items");
            items.forEach((k, v) -> {
                ArrayNode a = it.putArray(k);
                for (double d : v) {
                    a.add(d);
                }
            });
            ArrayNode nll = o.putArray("textNll");
            ArrayNode tok = o.putArray("textTokens");
            for (int i = 0; i < textNll.length; i++) {
                nll.add(textNll[i]);
                tok.add(textTokens[i]);
            }
            o.put("seconds", seconds);
            o.put("truncatedPrompts", truncatedPrompts);
            return o;
        }

        static Result fromJson(JsonNode o, String where) {
            Map<String, double[]> items = new LinkedHashMap<>();
            o.path("items").fields().forEachRemaining(e -> items.put(e.getKey(), doubles(e.getValue())));
            double[] nll = doubles(o.path("textNll"));
            double[] tok = doubles(o.path("textTokens"));
            if (items.size() != 2 * SHOTS.size() || nll.length == 0 || nll.length != tok.length) {
                throw new Mm1Exception(where + ": incomplete evaluation scores");
            }
            return new Result(items, nll, tok, o.path("seconds").asDouble(), o.path("truncatedPrompts").asInt());
        }
    }

    static double[] doubles(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asDouble();
        }
        return out;
    }

    /** The group names: {@code cider@0}, {@code vqa@0}, … {@code vqa@8}. */
    public static List<String> groups() {
        List<String> g = new ArrayList<>();
        for (int k : SHOTS) {
            g.add("cider@" + k);
            g.add("vqa@" + k);
        }
        return g;
    }

    private AblationEval() {}

    /** The scores saved in {@code runDir}, or null when there are none for these settings. */
    static Result saved(Path runDir, int items, int textDocs) {
        return saved(runDir, items, textDocs, false);
    }

    /** The same for prompts through the chat template ({@code chat}) or MM1's pre-training layout. */
    static Result saved(Path runDir, int items, int textDocs, boolean chat) {
        Path f = runDir.resolve(FILE);
        if (!Files.isRegularFile(f)) {
            return null;
        }
        try {
            JsonNode o = JsonFiles.MAPPER.readTree(f.toFile());
            if (o.path("itemsPerTask").asInt() != items || o.path("textDocuments").asInt() != textDocs
                    || o.path("template").asText("pretrain").equals("chat") != chat) {
                return null;
            }
            return Result.fromJson(o, f.toString());
        } catch (IOException | Mm1Exception e) {
            return null; // unreadable or partial: evaluate again
        }
    }

    /**
     * Evaluates {@code model} on {@code world} (a {@code mm1 data synth} folder) and saves the scores in
     * {@code runDir}.
     */
    static Result run(Mm1Model model, Tokenizer tok, Path world, Path runDir, int items, int textDocs, long seed) {
        return run(model, tok, world, runDir, items, textDocs, seed, null);
    }

    /**
     * The same with the prompts laid out by {@code chat} (a fine-tuned model's template: each demonstration a user
     * and an assistant turn, captions asked for with a fixed instruction), or MM1's pre-training layout when null.
     */
    static Result run(Mm1Model model, Tokenizer tok, Path world, Path runDir, int items, int textDocs, long seed,
                      ChatTemplate chat) {
        long t0 = System.nanoTime();
        Path dir = runDir.resolve("ablate-eval");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Mm1Exception(dir + ": cannot create: " + e.getMessage(), e);
        }
        EvalData.Source src = new EvalData.Source(world, null, null, null, null, null, "val", dir, seed);
        EvalData captions = EvalData.load(EvalTask.COCO_CAPTIONS, src);
        EvalData vqa = EvalData.load(EvalTask.VQAV2, src);
        Map<String, double[]> scores = new LinkedHashMap<>();
        int truncated = 0;
        for (int k : SHOTS) {
            for (EvalTask task : List.of(EvalTask.COCO_CAPTIONS, EvalTask.VQAV2)) {
                FewShotEvaluator.Settings s = new FewShotEvaluator.Settings(task, k, seed, items,
                        task.defaultMaxNewTokens(), false, ImageIoLoader.DEFAULT_MAX_PIXELS, VqaVariant.OFFICIAL);
                String name = (task == EvalTask.COCO_CAPTIONS ? "cider" : "vqa") + "@" + k;
                Path samples = dir.resolve(name + ".samples.jsonl");
                FewShotEvaluator.Outcome out = new FewShotEvaluator(model, tok, model.params().manager(), s)
                        .withChatTemplate(chat).run(
                        task == EvalTask.COCO_CAPTIONS ? captions : vqa, dir.resolve(name + ".results.json"),
                        samples, line -> { });
                truncated += out.truncatedPrompts();
                scores.put(name, perItem(samples, 100));
            }
        }
        double[][] text = text(model, tok, world.resolve("text/val.txt"), textDocs);
        Result r = new Result(scores, text[0], text[1], (System.nanoTime() - t0) / 1e9, truncated);
        ObjectNode o = r.toJson();
        o.put("itemsPerTask", items);
        o.put("textDocuments", textDocs);
        o.put("world", world.toString());
        o.put("template", chat == null ? "pretrain" : "chat");
        if (chat != null) {
            o.put("chatTemplate", chat.origin());
        }
        AtomicFiles.writeString(runDir.resolve(FILE), o.toPrettyString());
        return r;
    }

    /**
     * The per-item scores of a samples file, scaled: CIDEr-D per image ×100 (the scale papers report), VQA accuracy
     * in [0, 1] ×100.
     */
    static double[] perItem(Path samples, double scale) {
        try {
            List<String> lines = Files.readAllLines(samples, StandardCharsets.UTF_8);
            double[] out = new double[lines.size()];
            for (int i = 0; i < lines.size(); i++) {
                out[i] = JsonFiles.MAPPER.readTree(lines.get(i)).path("score").asDouble() * scale;
            }
            return out;
        } catch (IOException e) {
            throw new Mm1Exception(samples + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** NLL sums and token counts of the first {@code docs} documents (blank-line separated) of a text file. */
    static double[][] text(Mm1Model model, Tokenizer tok, Path file, int docs) {
        String all;
        try {
            all = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot read: " + e.getMessage(), e);
        }
        List<double[]> rows = new ArrayList<>();
        int window = Math.min(TEXT_WINDOW, model.config().llm().maxPositions());
        for (String doc : all.split("\n\\s*\n")) {
            if (rows.size() == docs) {
                break;
            }
            String d = doc.strip();
            if (d.isEmpty()) {
                continue;
            }
            long[] ids = tok.encode(d);
            if (ids.length == 0) {
                continue;
            }
            TextPerplexity.Result r = TextPerplexity.evaluate(model.decoder(), ids, model.config().llm()
                    .bosTokenId(), window, window / 2, n -> { });
            rows.add(new double[] {r.meanNll() * r.tokens(), r.tokens()});
        }
        if (rows.isEmpty()) {
            throw new Mm1Exception(file + ": no text documents to score");
        }
        double[][] out = new double[2][rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            out[0][i] = rows.get(i)[0];
            out[1][i] = rows.get(i)[1];
        }
        return out;
    }
}
