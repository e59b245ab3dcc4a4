package io.mm1j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.Presets;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.VqaReader;
import io.mm1j.eval.CaptionScores;
import io.mm1j.eval.GqaAccuracy;
import io.mm1j.eval.VqaAccuracy;
import io.mm1j.eval.VqaVariant;
import io.mm1j.io.JsonFiles;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    /** Prints {@code o} as JSON, or as "key value" lines with one level of nesting indented. */
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

    /** What every scorer shares: the results file, {@code --json}, and printing the figures. */
    abstract static class Scorer implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--results", required = true, description = "Results JSON in the benchmark's official "
                + "format (see above).")
        Path results;

        @Option(names = "--json", description = "Print JSON (the official key names).")
        boolean json;

        /** The figures, as JSON. */
        abstract ObjectNode score();

        @Override
        public final Integer call() {
            print(spec.commandLine().getOut(), score(), json);
            return 0;
        }
    }

    @Command(name = "captions", mixinStandardHelpOptions = true,
            description = {"BLEU-1..4, ROUGE-L and CIDEr-D as coco-caption computes them (PTB tokenised).",
                    "Results: [{\"image_id\": int, \"caption\": str}]; JSON keys Bleu_1..Bleu_4, ROUGE_L, CIDEr."})
    static final class Captions extends Scorer {
        @Option(names = "--refs", required = true, description = "COCO captions JSON (images + annotations).")
        Path refs;

        @Option(names = "--subset", description = "Score only the images in the results (coco-caption's behaviour); "
                + "by default every reference image needs a caption.")
        boolean subset;

        @Override
        ObjectNode score() {
            return CaptionScores.evaluate(CocoCaptionsReader.readStrict(refs).references(),
                    CaptionScores.readResults(results), results, subset).toJson(JsonFiles.MAPPER);
        }
    }

    @Command(name = "vqa", mixinStandardHelpOptions = true,
            description = {"VQA accuracy as the official VQA evaluation computes it (answer normalisation, 10 "
                    + "leave-one-out subsets, per answer and question type).",
                    "Results: [{\"question_id\": int, \"answer\": str}]; JSON keys overall, perAnswerType, "
                            + "perQuestionType, perQuestion (the official evalQA), variant."})
    static final class Vqa extends Scorer {
        @Option(names = "--questions", required = true, description = "VQAv2 questions JSON.")
        Path questions;

        @Option(names = "--annotations", required = true, description = "VQAv2 annotations JSON.")
        Path annotations;

        @Mixin
        VariantOption variant;

        @Override
        ObjectNode score() {
            VqaAccuracy acc = VqaAccuracy.evaluate(variant.variant(), VqaReader.readAnnotations(annotations),
                    VqaReader.readQuestions(questions), VqaAccuracy.readResults(results), results);
            return acc.toJson(JsonFiles.MAPPER, json);
        }
    }

    @Command(name = "gqa", mixinStandardHelpOptions = true,
            description = {"GQA accuracy (exact match over balanced questions) as GQA's eval.py.",
                    "Results: [{\"questionId\": str, \"prediction\": str}]; JSON key accuracy."})
    static final class Gqa extends Scorer {
        @Option(names = "--questions", required = true, description = "GQA questions JSON (keyed by question id).")
        Path questions;

        @Override
        ObjectNode score() {
            double acc = GqaAccuracy.evaluate(questions, GqaAccuracy.readPredictions(results), results);
            return JsonFiles.MAPPER.createObjectNode().put("accuracy", acc);
        }
    }

    /** {@code --variant official|legacy}: which official VQA evaluation VQAv2 / OK-VQA answers are scored with. */
    static final class VariantOption {
        @Option(names = "--variant", defaultValue = "official", description = "VQA evaluation: official (the "
                + "GT-Vision-Lab/VQA code as it is today, a013f00, 2021) or legacy (before that commit, as many "
                + "harnesses still copy it); default ${DEFAULT-VALUE}.")
        String name;

        VqaVariant variant() {
            return VqaVariant.parseVqav2(name);
        }
    }
}
