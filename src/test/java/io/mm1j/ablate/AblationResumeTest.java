package io.mm1j.ablate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
import io.mm1j.io.OutputDir;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 2-configuration × 1-seed study end to end on a tiny model (3 steps): report, results and plots; then one run
 * folder is removed (an interrupted ablation) and the study resumed: only that run trains again, the other is
 * reused untouched.
 */
class AblationResumeTest {
    static final String TINY = "{\"model\": {\"preset\": \"tiny-test\"}, \"data\": {\"synthetic_images\": 40, "
            + "\"seq_len\": 64, \"workers\": 1}, \"train\": {\"batch_size\": 2, \"eval_batches\": 1}}";

    private static List<String> run(Path out, Path config) {
        List<String> lines = new ArrayList<>();
        Ablation.run(new Ablation.Options(out, Studies.select("encoder-data"), 1, 30, config, List.of(), null, 2, 2,
                3, false), lines::add);
        return lines;
    }

    @Test
    void aResumedStudyTrainsOnlyTheRunsNotYetDone(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("tiny.json");
        Files.writeString(config, TINY);
        Path out = dir.resolve("abl");
        List<String> first = run(out, config);
        assertTrue(first.stream().anyMatch(l -> l.startsWith("[1/2] encoder-data/images-250 seed 0: training 3 steps")),
                String.join("\n", first));
        JsonNode plan = JsonFiles.MAPPER.readTree(out.resolve("plan.json").toFile());
        assertEquals(3, plan.path("steps").asInt());
        List<String> results = Files.readAllLines(out.resolve("results.jsonl"));
        assertEquals(2, results.size());
        JsonNode r0 = JsonFiles.MAPPER.readTree(results.get(0));
        assertEquals("images-250", r0.path("variant").asText());
        assertEquals(3, r0.path("steps").asInt());
        assertEquals(3L * 2 * 64, r0.path("tokens").asLong());
        assertEquals(out.resolve("runs/images-250_s0").toString(), r0.path("runDir").asText());
        String report = Files.readString(out.resolve("report.md"));
        assertTrue(report.contains("## encoder-data"), report);
        assertTrue(report.contains("| 250 pictures | "), report);
        assertTrue(report.contains("**Verdict: "), report);
        assertTrue(report.startsWith("# MM1's ablations at laptop scale (`mm1 ablate`)\n\nStudies: encoder-data · 1 "
                + "seed(s) · 3 steps per run fixed with `--steps` (384 tokens: batch 2 × 64 tokens) (load average "),
                report);
        assertFalse(report.contains("NaN"), "--steps: no probe, no step time");
        assertTrue(Files.size(out.resolve("plots/encoder-data.png")) > 1000);
        assertTrue(Files.size(out.resolve("plots/encoder-data-text.png")) > 1000);
        JsonNode eval = JsonFiles.MAPPER.readTree(out.resolve("runs/base_s0/ablate-eval.json").toFile());
        assertEquals(2, eval.path("items").path("cider@8").size());
        assertEquals(2, eval.path("textNll").size());

        // interrupted: one run folder gone; the other must not be touched
        Path kept = out.resolve("runs/base_s0/summary.json");
        FileTime before = Files.getLastModifiedTime(kept);
        OutputDir.deleteTree(out.resolve("runs/images-250_s0"));
        List<String> second = run(out, config);
        assertTrue(second.contains("resuming: the plan of " + out.resolve("plan.json")), String.join("\n", second));
        assertTrue(second.stream().anyMatch(l -> l.startsWith("[1/2] encoder-data/images-250 seed 0: training")),
                String.join("\n", second));
        assertTrue(second.contains("[2/2] encoder-data/base seed 0: trained before (reused)"),
                String.join("\n", second));
        assertFalse(second.stream().anyMatch(l -> l.startsWith("[2/2] encoder-data/base seed 0: training")));
        assertEquals(before, Files.getLastModifiedTime(kept));
        assertTrue(Files.isRegularFile(out.resolve("runs/images-250_s0/model/config.json")));

        // the whole ablation moved elsewhere: its runs name the shared tokenizer and worlds where they were, and are
        // reused untouched (they used to be refused as "a finished run of another configuration")
        Path moved = dir.resolve("moved/abl");
        Files.createDirectories(moved.getParent());
        Files.move(out, moved);
        FileTime movedBefore = Files.getLastModifiedTime(moved.resolve("runs/base_s0/summary.json"));
        List<String> third = run(moved, config);
        assertTrue(third.contains("[1/2] encoder-data/images-250 seed 0: trained before (reused)"),
                String.join("\n", third));
        assertTrue(third.contains("[2/2] encoder-data/base seed 0: trained before (reused)"), String.join("\n", third));
        assertEquals(movedBefore, Files.getLastModifiedTime(moved.resolve("runs/base_s0/summary.json")));
        Files.move(moved, out);

        // a different base config is refused instead of mixing runs
        Files.writeString(config, TINY.replace("\"batch_size\": 2", "\"batch_size\": 3"));
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> run(out, config));
        assertEquals("--out " + out + " was started with another base config ('train.batch_size' differs; see "
                + out.resolve("base.json") + "); use a new --out", e.getMessage());
    }

    /**
     * The {@code lr} study's sweep folder holding no sweep (a session killed before the sweep wrote its marker, or
     * stray files) belongs to the ablation: it is replaced, not refused as a non-empty folder. Stopped at the first
     * finished sub-run, by which time the old files are gone.
     */
    @Test
    void anLrSweepFolderHoldingNoSweepIsReplacedRatherThanRefused(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("tiny.json");
        Files.writeString(config, TINY);
        Path out = dir.resolve("abl");
        // an earlier session of this ablation: planned (no training), then killed as its sweep folder was made
        Ablation.run(new Ablation.Options(out, Studies.select("lr"), 1, 30, config, List.of(), null, 2, 2, 3, false,
                true), line -> { });
        Path sweep = out.resolve("lr-sweep");
        Files.createDirectories(sweep.resolve("runs/not-a-sub-run"));
        Files.writeString(sweep.resolve("stray.txt"), "left by a killed session");
        assertFalse(io.mm1j.train.LrSweep.isSweep(sweep));
        RuntimeException stop = new RuntimeException("first sub-run done");
        List<String> lines = new ArrayList<>();
        RuntimeException thrown = assertThrows(RuntimeException.class, () -> Ablation.run(new Ablation.Options(out,
                Studies.select("lr"), 1, 30, config, List.of(), null, 2, 2, 3, false), line -> {
                    lines.add(line);
                    if (line.startsWith("lr/")) {
                        throw stop;
                    }
                }));
        assertEquals(stop, thrown, String.join("\n", lines));
        assertFalse(Files.exists(sweep.resolve("stray.txt")), "the stray files are replaced");
        assertFalse(Files.exists(sweep.resolve("runs/not-a-sub-run")));
        assertTrue(io.mm1j.train.LrSweep.isSweep(sweep), "a sweep of the ablation's own now");
    }
}
