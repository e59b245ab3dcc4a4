package io.mm1j.cli;

import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.ImageStore;
import io.mm1j.data.InterleavedReader;
import io.mm1j.data.LlavaReader;
import io.mm1j.data.Sample;
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
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mm1 data check}: reads a dataset with the same reader training uses and reports what it holds and what
 * would be skipped (per reason); {@code --strict} turns the first bad record into an error with file:line.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Read a dataset with mm1j's reader for its format and report samples, images and skipped "
                + "records; --strict fails on the first bad record (file:line).")
public final class DataCheckCommand implements Callable<Integer> {
    @Option(names = "--format", required = true,
            description = "coco | wds | mmc4 | text | llava | vqa")
    String format;

    @Parameters(arity = "1..*", description = "Data files: COCO captions JSON, WebDataset .tar shards, mmc4/OBELICS "
            + "JSONL, text/JSONL, LLaVA JSON, or VQAv2 questions JSON then annotations JSON.")
    List<Path> files = new ArrayList<>();

    @Option(names = "--images", description = "Image folder or tar (coco, mmc4, llava, vqa).")
    Path images;

    @Option(names = "--strict", description = "Fail on the first bad record instead of skipping it.")
    boolean strict;

    @Override
    public Integer call() {
        SkipReport skips = new SkipReport(strict);
        long count = 0;
        long imageRefs = 0;
        TreeMap<String, Long> kinds = new TreeMap<>();
        try (SampleReader r = open(skips)) {
            while (r.hasNext()) {
                Sample s = r.next();
                count++;
                kinds.merge(s.getClass().getSimpleName(), 1L, Long::sum);
                imageRefs += images(s);
            }
        }
        System.out.printf(Locale.ROOT, "%s: %d samples %s, %d image references; skipped %d (%s)%n", format, count,
                kinds, imageRefs, skips.total(), skips.summary());
        return 0;
    }

    private static long images(Sample s) {
        if (s instanceof Sample.Caption || s instanceof Sample.Vqa) {
            return 1;
        }
        if (s instanceof Sample.Interleaved d) {
            return d.imageCount();
        }
        return 0;
    }

    private SampleReader open(SkipReport skips) {
        Path first = files.get(0);
        return switch (format) {
            case "coco" -> new CocoCaptionsReader(first, images, skips);
            case "wds" -> new WebDatasetReader(files, skips);
            case "mmc4" -> new InterleavedReader(first, images == null ? null : ImageStore.open(images), skips);
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
