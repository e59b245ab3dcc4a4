package io.mm1j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.Presets;
import io.mm1j.eval.CaptionScores;
import io.mm1j.eval.CocoCaptions;
import io.mm1j.eval.GqaAccuracy;
import io.mm1j.eval.VqaAccuracy;
import io.mm1j.eval.VqaFiles;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mm1 score …}: scores an official-format results file the way the official tools do (coco-caption for
 * captions, vqaEval.py for VQA, GQA's eval.py), so figures can be compared with published ones.
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Score results files with the official caption / VQA / GQA metrics.",
        subcommands = {ScoreCommand.Captions.class, ScoreCommand.Vqa.class, ScoreCommand.Gqa.class})
public final class ScoreCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static void print(PrintWriter out, ObjectNode o, boolean json) {
        if (json) {
            out.println(Presets.toJson(o));
        } else {
            o.properties().forEach(f -> {
                if (f.getValue().isObject()) {
                    out.println(f.getKey() + ":");
                    f.getValue().properties().forEach(g -> out.printf(Locale.ROOT, "  %-24s %s%n", g.getKey(),
                            g.getValue().asText()));
                } else {
                    out.printf(Locale.ROOT, "%-26s %s%n", f.getKey(), f.getValue().asText());
                }
            });
        }
        out.flush();
    }

    @Command(name = "captions", mixinStandardHelpOptions = true,
            description = "BLEU-1..4, ROUGE-L and CIDEr-D as coco-caption computes them (PTB tokenised).")
    static final class Captions implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--refs", required = true, description = "COCO captions JSON (images + annotations).")
        Path refs;

        @Option(names = "--results", required = true, description = "Results JSON: [{\"image_id\", \"caption\"}].")
        Path results;

        @Option(names = "--subset", description = "Score only the images in the results (coco-caption's behaviour); "
                + "by default every reference image needs a caption.")
        boolean subset;

        @Option(names = "--json", description = "Print JSON (keys Bleu_1..Bleu_4, ROUGE_L, CIDEr).")
        boolean json;

        @Override
        public Integer call() {
            CaptionScores s = CaptionScores.evaluate(CocoCaptions.readReferences(refs),
                    CocoCaptions.readResults(results), results, subset);
            print(spec.commandLine().getOut(), s.toJson(Presets.JSON), json);
            return 0;
        }
    }

    @Command(name = "vqa", mixinStandardHelpOptions = true,
            description = "VQA accuracy as the official VQA evaluation computes it (answer normalisation, 10 "
                    + "leave-one-out subsets, per answer and question type).")
    static final class Vqa implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--questions", required = true, description = "VQAv2 questions JSON.")
        Path questions;

        @Option(names = "--annotations", required = true, description = "VQAv2 annotations JSON.")
        Path annotations;

        @Option(names = "--results", required = true, description = "Results JSON: [{\"question_id\", \"answer\"}].")
        Path results;

        @Option(names = "--json", description = "Print JSON (keys overall, perAnswerType, perQuestionType).")
        boolean json;

        @Override
        public Integer call() {
            VqaAccuracy acc = VqaAccuracy.evaluate(VqaFiles.readAnnotations(annotations),
                    VqaFiles.readQuestions(questions), VqaFiles.readResults(results), results);
            print(spec.commandLine().getOut(), acc.toJson(Presets.JSON), json);
            return 0;
        }
    }

    @Command(name = "gqa", mixinStandardHelpOptions = true,
            description = "GQA accuracy (exact match over balanced questions) as GQA's eval.py.")
    static final class Gqa implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--questions", required = true, description = "GQA questions JSON (keyed by question id).")
        Path questions;

        @Option(names = "--results", required = true, description = "Predictions: [{\"questionId\", \"prediction\"}].")
        Path results;

        @Option(names = "--json", description = "Print JSON (key accuracy).")
        boolean json;

        @Override
        public Integer call() {
            double acc = GqaAccuracy.evaluate(questions, GqaAccuracy.readPredictions(results), results);
            ObjectNode o = Presets.JSON.createObjectNode();
            o.put("accuracy", acc);
            print(spec.commandLine().getOut(), o, json);
            return 0;
        }
    }
}
