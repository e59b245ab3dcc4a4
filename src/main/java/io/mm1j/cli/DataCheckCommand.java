package io.mm1j.cli;

import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.ImageStore;
import io.mm1j.data.InterleavedReader;
import io.mm1j.data.LlavaReader;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleEncoder;
import io.mm1j.data.SampleReader;
import io.mm1j.data.SkipReport;
import io.mm1j.data.TextReader;
import io.mm1j.data.VqaReader;
import io.mm1j.data.WebDatasetReader;
import io.mm1j.Mm1Exception;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mm1 data check}: reads a dataset with the same reader training uses, decodes and preprocesses every image
 * exactly as training does ({@link SampleEncoder}), and reports what it holds and what would be skipped (per
 * reason); {@code --strict} turns the first bad record or image into an error with its file and position. A dataset
 * that passes {@code --strict} holds nothing that training would refuse.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Read a dataset with mm1j's reader for its format, decode and preprocess every image as "
                + "training does, and report samples, images and skipped records; --strict fails on the first bad "
                + "record or image.")
public final class DataCheckCommand implements Callable<Integer> {
    /** Formats whose records name images relative to a folder that must therefore be given. */
    private static final Set<String> NEED_IMAGES = Set.of("coco", "vqa", "llava");

    @Option(names = "--format", required = true,
            description = "coco | wds | mmc4 | text | llava | vqa")
    String format;

    @Parameters(arity = "1..*", description = "Data files: COCO captions JSON, WebDataset .tar shards, mmc4/OBELICS "
            + "JSONL, text/JSONL, LLaVA JSON, or VQAv2 questions JSON then annotations JSON.")
    List<Path> files = new ArrayList<>();

    @Option(names = "--images", description = "Image folder (coco, llava, vqa: required) or folder/tar (mmc4).")
    Path images;

    @Option(names = "--image-size", defaultValue = "224", description = "Side the images are preprocessed to, as in "
            + "training (default ${DEFAULT-VALUE}).")
    int imageSize;

    @Option(names = "--strict", description = "Fail on the first bad record or image instead of skipping it.")
    boolean strict;

    @Override
    public Integer call() {
        if (NEED_IMAGES.contains(format) && images == null) {
            throw new Mm1Exception("--format " + format + " needs --images FOLDER (the folder its image names are "
                    + "relative to)");
        }
        if (imageSize < 1) {
            throw new Mm1Exception("--image-size must be positive, got " + imageSize);
        }
        SkipReport skips = new SkipReport(strict);
        // Text is not tokenised here (any tokenizer accepts any text); images go through training's exact path.
        SampleEncoder encoder = new SampleEncoder(text -> new long[0], SampleEncoder.resizeToUnit(imageSize));
        long count = 0;
        long imageCount = 0;
        TreeMap<String, Long> kinds = new TreeMap<>();
        try (ImageStore store = images != null && format.equals("mmc4") ? ImageStore.open(images) : null;
             SampleReader r = open(skips, store)) {
            while (r.hasNext()) {
                Sample s = r.next();
                try {
                    encoder.prepare(s, null, null);
                } catch (Mm1Exception e) {
                    skips.skip(SkipReport.BAD_IMAGE, r.source() + ": sample " + s.id(), e.getMessage());
                    continue;
                }
                count++;
                kinds.merge(kind(s), 1L, Long::sum);
                imageCount += images(s);
            }
        }
        if (count == 0) { // every sample had an image that training cannot decode
            throw new Mm1Exception(files.get(0) + ": no usable samples (" + skips.summary() + ")");
        }
        StringBuilder by = new StringBuilder();
        kinds.forEach((k, n) -> by.append(by.length() == 0 ? "" : ", ").append(k).append(' ').append(n));
        System.out.printf(Locale.ROOT, "%s: %s (%s), %s decoded; skipped %d%s%n", format, count(count, "sample"), by,
                count(imageCount, "image"), skips.total(), skips.total() == 0 ? "" : " (" + skips.reasons() + ")");
        return 0;
    }

    private static String count(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    private static String kind(Sample s) {
        return s.getClass().getSimpleName().toLowerCase(Locale.ROOT);
    }

    private static long images(Sample s) {
        if (s instanceof Sample.Caption || s instanceof Sample.Vqa) {
            return 1;
        }
        if (s instanceof Sample.Conversation c) {
            return c.images().size();
        }
        if (s instanceof Sample.Interleaved d) {
            return d.imageCount();
        }
        return 0;
    }

    private SampleReader open(SkipReport skips, ImageStore store) {
        Path first = files.get(0);
        return switch (format) {
            case "coco" -> new CocoCaptionsReader(first, images, skips);
            case "wds" -> new WebDatasetReader(files, skips);
            case "mmc4" -> new InterleavedReader(first, store, skips);
            case "text" -> new TextReader(first, 2000, skips);
            case "llava" -> new LlavaReader(first, images, skips);
            case "vqa" -> {
                if (files.size() != 2) {
                    throw new Mm1Exception("--format vqa needs two files: questions JSON then annotations JSON");
                }
                yield new VqaReader(first, files.get(1), images, skips);
            }
            default -> throw new Mm1Exception("--format must be one of coco, wds, mmc4, text, llava, vqa; got "
                    + format);
        };
    }
}
