package io.mm1j.eval;

import io.mm1j.io.AtomicFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
import io.mm1j.tensor.SafeTensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Multiple-choice evaluation in the style of the SFT benchmarks (MMBench, SEED-Bench, ScienceQA-IMG, MMMU): the
 * options are listed as "A. …" to "D. …", the model generates greedily, and the answer is the option <b>letter
 * extracted from the generation</b> (not a comparison of option log-likelihoods), as MMBench's and SEED-Bench's
 * generation-based protocols do. MMBench's circular evaluation asks each question once per rotation of its options
 * and counts it only when every rotation is answered right, which removes the gain of a model that always picks
 * the same letter.
 *
 * <p>File format ({@code mm1j-mc}, one JSON object; image paths relative to the file's folder):
 * <pre>
 * {"format": "mm1j-mc", "questions": [{"question_id": "17", "image_id": "3", "image": "images/val/000000000003.png",
 *   "question": "what color is the circle?", "options": ["blue", "red", "green", "yellow"], "answer": "B",
 *   "category": "what color is the"}]}
 * </pre>
 * In an {@link EvalExample}, {@code targets} are the options, {@code answer} the correct letter and
 * {@code answerType} the category.
 */
public final class MultipleChoice {
    public static final String FORMAT = "mm1j-mc";
    private static final Pattern LEADING = Pattern.compile("^\\(?([A-Z])(?:[).:,]|\\s|$)");
    private static final Pattern ANYWHERE = Pattern.compile("\\b([A-Z])\\b");

    private MultipleChoice() {}

    public static String letter(int index) {
        return String.valueOf((char) ('A' + index));
    }

    /** "Question: q\nA. o1\nB. o2\n…\nAnswer:" (the query text; a demonstration appends " L\n"). */
    static String body(EvalExample e) {
        StringBuilder sb = new StringBuilder("Question: ").append(e.question()).append('\n');
        for (int i = 0; i < e.targets().size(); i++) {
            sb.append(letter(i)).append(". ").append(e.targets().get(i)).append('\n');
        }
        return sb.append("Answer:").toString();
    }

    /**
     * The option letter a generation names: a leading letter ("B", "(B)", "B. red"), else the first standalone
     * capital letter that is an option, else an option text given verbatim (case-insensitive); null when none.
     */
    public static String extract(String output, List<String> options) {
        String s = output.strip();
        Matcher m = LEADING.matcher(s);
        if (m.find() && m.group(1).charAt(0) - 'A' < options.size()) {
            return m.group(1);
        }
        Matcher any = ANYWHERE.matcher(s);
        while (any.find()) {
            if (any.group(1).charAt(0) - 'A' < options.size()) {
                return any.group(1);
            }
        }
        String bare = s.replaceAll("[.\\s]+$", "").toLowerCase(Locale.ROOT);
        for (int i = 0; i < options.size(); i++) {
            if (options.get(i).toLowerCase(Locale.ROOT).equals(bare)) {
                return letter(i);
            }
        }
        return null;
    }

    /** The question with its options rotated left by {@code r} (rotation r of MMBench's circular evaluation). */
    public static EvalExample rotate(EvalExample e, int r) {
        int n = e.targets().size();
        List<String> opts = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            opts.add(e.targets().get((i + r) % n));
        }
        int correct = e.answer().charAt(0) - 'A';
        return new EvalExample(e.id(), e.imageKey(), e.image(), e.question(), opts, letter(((correct - r) % n + n) % n),
                e.answerType(), e.questionType());
    }

    /** Vanilla accuracy (rotation 0 only) and circular accuracy (all rotations right), both ×100. */
    public record Scores(double accuracy, double circularAccuracy, int questions) {}

    /** @param correct per question, whether each rotation (index 0 = original order) was answered right */
    public static Scores score(List<List<Boolean>> correct) {
        if (correct.isEmpty()) {
            throw new Mm1Exception("no multiple-choice questions to score");
        }
        int plain = 0;
        int all = 0;
        for (List<Boolean> q : correct) {
            plain += q.get(0) ? 1 : 0;
            all += q.stream().allMatch(Boolean::booleanValue) ? 1 : 0;
        }
        return new Scores(100.0 * plain / correct.size(), 100.0 * all / correct.size(), correct.size());
    }

    /**
     * A multiple-choice split made from VQA items (the synthetic world's): the correct answer plus up to three
     * distractors drawn (seeded per question) from the answers other questions of the same type have, shuffled.
     * Yes/no questions get two options; questions whose type offers no distractor are left out.
     */
    public static List<EvalExample> fromVqa(List<EvalExample> vqa, long seed) {
        Map<String, LinkedHashSet<String>> pool = new LinkedHashMap<>();
        for (EvalExample e : vqa) {
            pool.computeIfAbsent(String.valueOf(e.questionType()), k -> new LinkedHashSet<>()).add(e.answer());
        }
        List<EvalExample> out = new ArrayList<>();
        for (EvalExample e : vqa) {
            SplittableRandom rnd = new SplittableRandom(seed * 0xBF58476D1CE4E5B9L + e.id().hashCode());
            List<String> others = new ArrayList<>(pool.get(String.valueOf(e.questionType())));
            others.remove(e.answer());
            List<String> opts = new ArrayList<>(List.of(e.answer()));
            while (opts.size() < 4 && !others.isEmpty()) {
                opts.add(others.remove(rnd.nextInt(others.size())));
            }
            if (opts.size() < 2) {
                continue;
            }
            for (int i = opts.size() - 1; i > 0; i--) {
                opts.set(i, opts.set(rnd.nextInt(i + 1), opts.get(i)));
            }
            out.add(new EvalExample(e.id(), e.imageKey(), e.image(), e.question(), opts,
                    letter(opts.indexOf(e.answer())), e.questionType(), e.questionType()));
        }
        return out;
    }

    /** Writes a split in the {@code mm1j-mc} format (image paths relative to the file's folder). */
    public static void write(Path file, List<EvalExample> items) {
        ObjectNode root = JsonFiles.MAPPER.createObjectNode().put("format", FORMAT);
        ArrayNode qs = root.putArray("questions");
        Path dir = file.toAbsolutePath().getParent();
        for (EvalExample e : items) {
            ObjectNode q = qs.addObject().put("question_id", e.id()).put("image_id", e.imageKey())
                    .put("image", dir.relativize(e.image().toAbsolutePath()).toString().replace('\\', '/'))
                    .put("question", e.question());
            e.targets().forEach(q.putArray("options")::add);
            q.put("answer", e.answer()).put("category", e.answerType());
        }
        try {
            byte[] b = JsonFiles.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
            AtomicFiles.write(file, o -> o.write(b));
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Reads an {@code mm1j-mc} file; every malformed entry is an error naming the file and the entry. */
    public static List<EvalExample> read(Path file) {
        JsonNode root = JsonFiles.read(file);
        if (!root.isObject() || !FORMAT.equals(root.path("format").asText())) {
            throw new Mm1Exception(file + ": not an mm1j-mc file (expected \"format\": \"" + FORMAT + "\")");
        }
        JsonNode qs = JsonFiles.field(file, root, "questions");
        Path dir = file.toAbsolutePath().getParent();
        List<EvalExample> out = new ArrayList<>();
        for (int i = 0; i < qs.size(); i++) {
            JsonNode q = qs.get(i);
            JsonNode opts = JsonFiles.array(file, q.get("options"), "entry " + i + ": \"options\"");
            List<String> options = new ArrayList<>();
            opts.forEach(o -> options.add(o.asText()));
            if (options.size() < 2 || options.size() > 26) {
                throw new Mm1Exception(file + ": entry " + i + ": needs 2 to 26 options, got " + options.size());
            }
            String answer = JsonFiles.text(file, q, i, "answer");
            if (answer.length() != 1 || answer.charAt(0) - 'A' < 0 || answer.charAt(0) - 'A' >= options.size()) {
                throw new Mm1Exception(file + ": entry " + i + ": \"answer\" must be one of the option letters A.."
                        + letter(options.size() - 1) + ", got \"" + answer + "\"");
            }
            String id = JsonFiles.text(file, q, i, "question_id");
            String image = JsonFiles.text(file, q, i, "image");
            out.add(new EvalExample(id, q.path("image_id").asText(image), dir.resolve(image),
                    JsonFiles.text(file, q, i, "question"), options, answer, q.path("category").asText(null), null));
        }
        return out;
    }
}
