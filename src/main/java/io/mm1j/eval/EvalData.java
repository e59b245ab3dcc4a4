package io.mm1j.eval;

import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The evaluation split and the demonstration pool of a task, read from what {@code --data} points at:
 * <ul>
 * <li>a synthetic world folder ({@code mm1 data synth}, recognised by its {@code manifest.json}): demonstrations
 *     from its train split, queries from {@code --split} (val by default); the multiple-choice split is derived
 *     from its VQA split with {@link MultipleChoice#fromVqa} and written next to the results;
 * <li>a benchmark file in its native format, with demonstrations from {@code --train-data} (same format). Without
 *     it, a COCO file whose images carry a {@code split} field (COCO-MINI: train2017 / val2017) uses its train
 *     images as the pool and the rest as queries; any other file serves as its own pool (leave-one-out: the
 *     query's picture is never a demonstration), recorded as such in scores.json.
 * </ul>
 *
 * @param files      every data file read, with its role, for the checksums in scores.json
 * @param demoSource where demonstrations come from ("train split", "train file", "leave-one-out")
 */
public record EvalData(List<EvalExample> train, List<EvalExample> eval, List<DataFile> files, String demoSource) {
    /** A data file and what it was used for. */
    public record DataFile(String role, Path path) {}

    /** Where to read from (nulls where not given). */
    public record Source(Path data, Path trainData, Path images, Path trainImages, Path annotations,
            Path trainAnnotations, String split, Path outDir, long seed) {}

    public static boolean isSynthetic(Path data) {
        return Files.isDirectory(data) && Files.isRegularFile(data.resolve("manifest.json"));
    }

    public static EvalData load(EvalTask task, Source s) {
        if (!Files.exists(s.data())) {
            throw new Mm1Exception(s.data() + ": --data not found");
        }
        return isSynthetic(s.data()) ? synthetic(task, s) : files(task, s);
    }

    private static EvalData synthetic(EvalTask task, Source s) {
        Path root = s.data();
        String split = s.split();
        List<DataFile> files = new ArrayList<>();
        switch (task.kind()) {
            case CAPTION -> {
                Path train = root.resolve("coco/captions_train.json");
                Path eval = root.resolve("coco/captions_" + split + ".json");
                files.add(new DataFile("train", train));
                files.add(new DataFile("eval", eval));
                return new EvalData(all(BenchmarkReaders.cocoCaptions(train, root.resolve("images/train"))),
                        all(BenchmarkReaders.cocoCaptions(eval, root.resolve("images/" + split))), files,
                        "train split");
            }
            case VQA, MULTIPLE_CHOICE -> {
                if (task == EvalTask.TEXTVQA || task == EvalTask.VIZWIZ || task == EvalTask.GQA) {
                    throw new Mm1Exception("--task " + task.cliName() + " reads its own format; the synthetic world "
                            + "provides VQAv2-format questions (use --task vqav2)");
                }
                List<EvalExample> train = synthVqa(root, "train", files);
                List<EvalExample> eval = synthVqa(root, split, files);
                if (task.kind() == EvalTask.Kind.VQA) {
                    return new EvalData(train, eval, files, "train split");
                }
                List<EvalExample> mcTrain = MultipleChoice.fromVqa(train, s.seed());
                List<EvalExample> mcEval = MultipleChoice.fromVqa(eval, s.seed());
                Path trainFile = s.outDir().resolve("mc_train.json");
                Path evalFile = s.outDir().resolve("mc_" + split + ".json");
                MultipleChoice.write(trainFile, mcTrain);
                MultipleChoice.write(evalFile, mcEval);
                files.add(new DataFile("mc train (derived, seed " + s.seed() + ")", trainFile));
                files.add(new DataFile("mc eval (derived, seed " + s.seed() + ")", evalFile));
                return new EvalData(mcTrain, mcEval, files, "train split");
            }
            default -> {
                Path text = root.resolve("text/" + split + ".txt");
                files.add(new DataFile("eval", text));
                return new EvalData(List.of(), List.of(), files, "none");
            }
        }
    }

    private static List<EvalExample> synthVqa(Path root, String split, List<DataFile> files) {
        Path q = root.resolve("vqa/questions_" + split + ".json");
        Path a = root.resolve("vqa/annotations_" + split + ".json");
        files.add(new DataFile(split + " questions", q));
        files.add(new DataFile(split + " annotations", a));
        return BenchmarkReaders.vqav2(q, a, root.resolve("images/" + split));
    }

    private static EvalData files(EvalTask task, Source s) {
        List<DataFile> files = new ArrayList<>();
        Path images = s.images() != null ? s.images() : s.data().toAbsolutePath().getParent().resolve("images");
        List<EvalExample> eval = read(task, s.data(), s.annotations(), images, files, "eval");
        if (s.trainData() != null) {
            Path trainImages = s.trainImages() != null ? s.trainImages() : images;
            return new EvalData(read(task, s.trainData(), s.trainAnnotations(), trainImages, files, "train"), eval,
                    files, "train file");
        }
        if (task.kind() == EvalTask.Kind.CAPTION) {
            Map<String, List<EvalExample>> bySplit = BenchmarkReaders.cocoCaptions(s.data(), images);
            List<EvalExample> train = new ArrayList<>();
            List<EvalExample> rest = new ArrayList<>();
            bySplit.forEach((split, items) -> (split.contains("train") ? train : rest).addAll(items));
            if (!train.isEmpty() && !rest.isEmpty()) {
                return new EvalData(train, rest, files, "train split (images whose split contains \"train\")");
            }
        }
        return new EvalData(eval, eval, files, "leave-one-out (no --train-data)");
    }

    private static List<EvalExample> read(EvalTask task, Path file, Path annotations, Path images,
            List<DataFile> files, String role) {
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": file not found");
        }
        files.add(new DataFile(role, file));
        switch (task) {
            case COCO_CAPTIONS, NOCAPS, TEXTCAPS -> {
                return all(BenchmarkReaders.cocoCaptions(file, images));
            }
            case VQAV2, OKVQA -> {
                Path a = annotations != null ? annotations : file.resolveSibling(file.getFileName().toString()
                        .replace("OpenEnded_", "").replace("questions", "annotations"));
                if (a.equals(file) || !Files.isRegularFile(a)) {
                    throw new Mm1Exception(file + ": annotations file not found (looked for " + a + "; give "
                            + "--annotations)");
                }
                files.add(new DataFile(role + " annotations", a));
                return BenchmarkReaders.vqav2(file, a, images);
            }
            case TEXTVQA -> {
                return BenchmarkReaders.textVqa(file, images);
            }
            case VIZWIZ -> {
                return BenchmarkReaders.vizWiz(file, images);
            }
            case GQA -> {
                return BenchmarkReaders.gqa(file, images);
            }
            case MC -> {
                return MultipleChoice.read(file);
            }
            default -> {
                return List.of();
            }
        }
    }

    private static List<EvalExample> all(Map<String, List<EvalExample>> bySplit) {
        List<EvalExample> out = new ArrayList<>();
        bySplit.values().forEach(out::addAll);
        return out;
    }
}
