package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LrSweepTest {
    @TempDir
    Path tmp;

    private Path corpus() throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < 40_000; i++) {
            sb.append("the ").append(i % 7 == 0 ? "red" : "blue").append(" square is left of the circle number ")
                    .append(i % 13).append(".\n\n");
        }
        Path f = tmp.resolve("corpus.txt");
        Files.writeString(f, sb);
        return f;
    }

    private static LrSweep.Options options(Path out, List<String> sizes, List<Double> lrs, Path text, boolean overwrite,
                                           boolean resume) {
        return new LrSweep.Options(out, sizes.stream().map(LrSweep.Size::parse).toList(), null, lrs, 3, 1, 2, 32, text,
                List.of(), overwrite, resume);
    }

    private static final String TWO_SIZES_WARNING = "--sizes: 2 model sizes spanning 4.0× in non-embedding N (3,376 "
            + "to 13,408); the LR-law fit asks for at least 4 sizes spanning at least 10×, so the fitted law is a "
            + "rough estimate";

    @Test
    void tinySweepFitsTheLawThroughEachSizesBestLrAndReusesFinishedRuns() throws Exception {
        Path out = tmp.resolve("sweep");
        LrSweep.Options o = new LrSweep.Options(out, List.of(LrSweep.Size.parse("1x16"), LrSweep.Size.parse("1x32")),
                LrSweep.Size.parse("1x48"), List.of(0.08, 0.112, 0.1568), 3, 1, 2, 32, corpus(), List.of(), false,
                false);
        List<Boolean> reused = new ArrayList<>();
        LrSweep.Result r = LrSweep.run(o, (name, p, again) -> reused.add(again));
        assertEquals(9, reused.size(), "2 fitted sizes + 1 held out, × 3 LRs × 1 seed");
        assertTrue(reused.stream().noneMatch(b -> b));
        assertTrue(r.fitted().get(0).nonEmbedding() < r.fitted().get(1).nonEmbedding());
        for (LrSweep.SizeResult s : r.fitted()) {
            assertEquals(3, s.points().size());
            s.points().forEach(p -> assertTrue(Double.isFinite(p.valLoss()) && p.valLoss() > 0, "loss " + p));
            assertTrue(s.best().lr() >= 0.08 && s.best().lr() <= 0.1568, "best LR within the grid: " + s.best());
        }
        // the law is the least-squares line through (ln N, ln best LR) of the fitted sizes (two points: exact)
        double x0 = Math.log(r.fitted().get(0).nonEmbedding());
        double x1 = Math.log(r.fitted().get(1).nonEmbedding());
        double y0 = Math.log(r.fitted().get(0).best().lr());
        double y1 = Math.log(r.fitted().get(1).best().lr());
        assertEquals((y1 - y0) / (x1 - x0), r.law().slope(), 1e-9);
        assertEquals(y0 - r.law().slope() * x0, r.law().intercept(), 1e-9);
        assertEquals(Math.exp(r.law().at(Math.log(r.heldOut().nonEmbedding()))), r.predictedLr(), 1e-15);

        JsonNode sweep = RunConfig.JSON.readTree(out.resolve("sweep.json").toFile());
        assertEquals(2, sweep.get("sizes").size());
        assertTrue(r.fitted().get(1).best().bracketed(), "1x32's minimum is inside the grid: " + r.fitted().get(1));
        assertTrue(r.lawFitted());
        assertTrue(sweep.at("/law/fitted").asBoolean());
        assertEquals(r.law().slope(), sweep.at("/law/a").asDouble(), 1e-12);
        assertEquals(-0.4214, sweep.at("/law/mm1A").asDouble(), 0);
        assertEquals(r.heldOutWithinTolerance(), sweep.at("/heldOut/withinTolerance").asBoolean());
        assertTrue(Files.readString(out.resolve("report.md")).contains("Held-out 1x48"));
        assertTrue(Files.size(out.resolve("loss-vs-lr.png")) > 1000);
        assertTrue(Files.size(out.resolve("lr-law.png")) > 1000);
        assertTrue(Files.isRegularFile(out.resolve("runs/1x16_lr8.000e-02_s0/summary.json")));
        // two fitted sizes, 4× apart: the law is fitted, with a caution in the report and sweep.json
        assertEquals(List.of(TWO_SIZES_WARNING), r.warnings());
        assertTrue(Files.readString(out.resolve("report.md")).contains("\n**Caution:** " + TWO_SIZES_WARNING + ".\n"));
        assertEquals(TWO_SIZES_WARNING, sweep.at("/warnings/0").asText());

        // the folder is not empty now: a new sweep there is refused, naming both ways on
        Mm1Exception refused = assertThrows(Mm1Exception.class, () -> LrSweep.run(o, (name, p, b) -> reused.add(b)));
        assertEquals("--out " + out + ": holds an earlier lr-sweep (pass --resume to continue it, reusing its "
                + "finished sub-runs, or --overwrite to replace it)", refused.getMessage());

        // mm1 lr-sweep --resume: every finished sub-run reused; the warning is one line on stderr before them
        io.mm1j.TestSupport.CliRun cli = io.mm1j.TestSupport.cli("lr-sweep", "--out", out.toString(), "--sizes",
                "1x16,1x32", "--held-out", "1x48", "--lrs", "0.08,0.112,0.1568", "--steps", "3", "--seeds", "1",
                "--batch-size", "2", "--seq-len", "32", "--text", o.text().toString(), "--resume");
        assertEquals(0, cli.code(), cli.err());
        assertEquals(List.of("mm1: warning: " + TWO_SIZES_WARNING),
                cli.err().lines().filter(l -> l.startsWith("mm1:")).toList(), cli.err());
        assertTrue(cli.err().startsWith("mm1: warning: "), cli.err());
        assertEquals(9, cli.out().lines().filter(l -> l.endsWith("(reused)")).count(), cli.out());
        LrSweep.Options resume = new LrSweep.Options(out, o.sizes(), o.heldOut(), o.lrs(), o.steps(), o.seeds(),
                o.batchSize(), o.seqLen(), o.text(), List.of(), false, true);
        reused.clear();
        LrSweep.Result again = LrSweep.run(resume, (name, p, b) -> reused.add(b));
        assertEquals(9, reused.size());
        assertTrue(reused.stream().allMatch(b -> b), "a resumed sweep reuses every finished sub-run");
        assertEquals(r.law().slope(), again.law().slope(), 0);

        // other training settings (here a --set) would retrain the finished sub-runs in place: refused, kept
        LrSweep.Options other = new LrSweep.Options(out, o.sizes(), o.heldOut(), o.lrs(), o.steps(), o.seeds(),
                o.batchSize(), o.seqLen(), o.text(), List.of("optim.weight_decay=0.0"), false, true);
        String before = Files.readString(out.resolve("runs/1x16_lr8.000e-02_s0/run.json"));
        Mm1Exception changed = assertThrows(Mm1Exception.class, () -> LrSweep.run(other, (name, p, b) -> { }));
        assertEquals("--resume: --set was [] when the sweep in " + out + " started, now [\"optim.weight_decay=0.0\"]; "
                + "its sub-runs would be trained again in place (pass --overwrite to replace the sweep, or the same "
                + "--set)", changed.getMessage());
        assertEquals(before, Files.readString(out.resolve("runs/1x16_lr8.000e-02_s0/run.json")));
        List<Boolean> first = new ArrayList<>();
        RuntimeException stop = new RuntimeException("enough");

        // --overwrite: a new sweep; the old one's files go once its first sub-run is done (stopped there)
        LrSweep.Options overwrite = new LrSweep.Options(out, o.sizes(), o.heldOut(), o.lrs(), o.steps(), o.seeds(),
                o.batchSize(), o.seqLen(), o.text(), List.of(), true, false);
        first.clear();
        assertSame(stop, assertThrows(RuntimeException.class, () -> LrSweep.run(overwrite, (name, p, b) -> {
            first.add(b);
            throw stop;
        })));
        assertEquals(List.of(false), first, "nothing of the old sweep is reused");
        try (java.util.stream.Stream<Path> runs = Files.list(out.resolve("runs"))) {
            assertEquals(List.of("1x16_lr8.000e-02_s0"), runs.map(p -> p.getFileName().toString()).toList());
        }
        assertFalse(Files.exists(out.resolve("report.md")), "the old sweep's report is gone");
        assertFalse(Files.exists(out.resolve(".overwritten")));
        assertTrue(Files.isRegularFile(out.resolve(LrSweep.MARKER)));
    }

    /**
     * A finished sweep moved elsewhere resumes without training again: its sub-runs' run.json name the synthetic text
     * inside the old folder, which compares equal to the same file in the new one. Each sub-run's summary.json and
     * metrics.jsonl are untouched.
     */
    @Test
    void aMovedSweepFolderResumesWithoutTrainingItsSubRunsAgain() throws Exception {
        Path out = tmp.resolve("first/sweep");
        List<Double> lrs = List.of(0.08, 0.112, 0.1568);
        List<Boolean> reused = new ArrayList<>();
        LrSweep.run(options(out, List.of("1x16", "1x32"), lrs, null, false, false), (n, p, b) -> reused.add(b));
        assertEquals(List.of(false, false, false, false, false, false), reused);
        Path moved = tmp.resolve("second/sweep");
        Files.createDirectories(moved.getParent());
        Files.move(out, moved);
        Path sub = moved.resolve("runs/1x32_lr1.120e-01_s0");
        assertTrue(Files.readString(sub.resolve("run.json")).contains(out.resolve("data/text/train.txt").toString()),
                "the sub-run names the text where the sweep was");
        java.nio.file.attribute.FileTime before = Files.getLastModifiedTime(sub.resolve("summary.json"));
        String metrics = Files.readString(sub.resolve("metrics.jsonl"));

        reused.clear();
        LrSweep.run(options(moved, List.of("1x16", "1x32"), lrs, null, false, true), (n, p, b) -> reused.add(b));
        assertEquals(List.of(true, true, true, true, true, true), reused, "every finished sub-run reused");
        assertEquals(before, Files.getLastModifiedTime(sub.resolve("summary.json")));
        assertEquals(metrics, Files.readString(sub.resolve("metrics.jsonl")));
        assertFalse(Files.exists(out), "nothing written where the sweep was");
    }

    /** A non-empty --out is refused unless --overwrite or (for a sweep) --resume; refusals touch nothing. */
    @Test
    void theSweepFolderFollowsTheOutputRules() throws Exception {
        Path text = corpus();
        List<String> sizes = List.of("1x16", "1x32");
        List<Double> lrs = List.of(1e-3, 1.4e-3, 1.96e-3);
        Path notes = tmp.resolve("notes");
        Files.createDirectories(notes);
        Files.writeString(notes.resolve("todo.txt"), "keep me");
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> LrSweep.run(options(notes, sizes, lrs, text, false, false), (n, p, b) -> { }));
        assertEquals("--out " + notes + ": folder exists and is not empty (pass --overwrite to replace it)",
                e.getMessage());
        e = assertThrows(Mm1Exception.class,
                () -> LrSweep.run(options(notes, sizes, lrs, text, false, true), (n, p, b) -> { }));
        assertEquals("--resume: --out " + notes + " holds no lr-sweep to continue (no lr-sweep.json)", e.getMessage());
        try (java.util.stream.Stream<Path> all = Files.list(notes)) {
            assertEquals(List.of(notes.resolve("todo.txt")), all.toList(), "untouched");
        }
        Path absent = tmp.resolve("absent");
        e = assertThrows(Mm1Exception.class,
                () -> LrSweep.run(options(absent, sizes, lrs, text, false, true), (n, p, b) -> { }));
        assertEquals("--resume: --out " + absent + " holds no lr-sweep to continue (no lr-sweep.json); start one "
                + "without --resume", e.getMessage());
        assertFalse(Files.exists(absent));
        e = assertThrows(Mm1Exception.class, () -> options(absent, sizes, lrs, text, true, true));
        assertEquals("--overwrite replaces the sweep in --out and --resume continues it: give one or the other",
                e.getMessage());
    }

    /** A resume that would train the sub-runs differently is refused naming the option; the folder is untouched. */
    @Test
    void aResumeWithOtherTrainingOptionsIsRefused() throws Exception {
        Path text = corpus();
        Path out = tmp.resolve("resumed");
        List<String> sizes = List.of("1x16", "1x32");
        List<Double> lrs = List.of(1e-3, 1.4e-3, 1.96e-3);
        Files.createDirectories(out);
        String marker = LrSweepReport.marker(options(out, sizes, lrs, text, false, false)).toPrettyString();
        Files.writeString(out.resolve(LrSweep.MARKER), marker);
        LrSweep.Options longer = new LrSweep.Options(out, sizes.stream().map(LrSweep.Size::parse).toList(), null,
                lrs, 4, 1, 2, 32, text, List.of(), false, true);
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> LrSweep.run(longer, (n, p, b) -> { }));
        assertEquals("--resume: --steps was 3 when the sweep in " + out + " started, now 4; its sub-runs would be "
                + "trained again in place (pass --overwrite to replace the sweep, or the same --steps)", e.getMessage());
        Path other = tmp.resolve("other.txt");
        Files.copy(text, other);
        e = assertThrows(Mm1Exception.class,
                () -> LrSweep.run(options(out, sizes, lrs, other, false, true), (n, p, b) -> { }));
        assertEquals("--resume: --text was " + text.toAbsolutePath() + " when the sweep in " + out + " started, now "
                + other.toAbsolutePath() + "; its sub-runs would be trained again in place (pass --overwrite to "
                + "replace the sweep, or the same --text)", e.getMessage());
        assertEquals(marker, Files.readString(out.resolve(LrSweep.MARKER)), "the marker is kept");
        try (java.util.stream.Stream<Path> all = Files.list(out)) {
            assertEquals(List.of(out.resolve(LrSweep.MARKER)), all.toList(), "nothing written");
        }
    }

    /** Where the fit cannot be made the sweep is refused naming the option; where it is weak, it warns. */
    @Test
    void aLawThatCannotBeFittedIsRefusedAndAWeakOneWarned() throws Exception {
        Path out = tmp.resolve("refused");
        List<Double> lrs = List.of(1e-3, 1.4e-3, 1.96e-3);
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> options(out, List.of("2x32"), lrs, null, false, false));
        assertEquals("--sizes: the law ln η = a·ln N + b is a line through each size's best LR and needs at least 2 "
                + "model sizes, got 1", e.getMessage());
        e = assertThrows(Mm1Exception.class, () -> options(out, List.of("2x32", "32"), lrs, null, false, false));
        assertEquals("--sizes: 2x32 is given twice", e.getMessage());
        e = assertThrows(Mm1Exception.class,
                () -> options(out, List.of("1x16", "1x32"), List.of(1e-3, 1.4e-3), null, false, false));
        assertEquals("--lrs: a size's best LR is the vertex of a parabola fitted in ln LR, which needs at least 3 "
                + "LRs, got 2", e.getMessage());
        assertFalse(Files.exists(out));

        assertNull(LrSweepReport.coverageWarning(List.of(1_000L, 3_000L, 6_000L, 10_000L)), "4 sizes, 10×");
        assertEquals("--sizes: 3 model sizes spanning 20.0× in non-embedding N (1,000 to 20,000); the LR-law fit asks "
                + "for at least 4 sizes spanning at least 10×, so the fitted law is a rough estimate",
                LrSweepReport.coverageWarning(List.of(1_000L, 5_000L, 20_000L)));
        assertEquals("--sizes: 4 model sizes spanning 8.0× in non-embedding N (1,000 to 8,000); the LR-law fit asks "
                + "for at least 4 sizes spanning at least 10×, so the fitted law is a rough estimate",
                LrSweepReport.coverageWarning(List.of(1_000L, 2_000L, 4_000L, 8_000L)));
    }

    /** A held-out size that is also fitted would not be held out: refused naming it, before anything is written. */
    @Test
    void aHeldOutSizeAmongTheFittedSizesIsRefused() {
        Path out = tmp.resolve("held");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> new LrSweep.Options(out, List.of(
                LrSweep.Size.parse("1x16"), LrSweep.Size.parse("2x32")), LrSweep.Size.parse("32"), null, 3, 1, 2, 32,
                null, List.of(), false, false));
        assertEquals("--held-out 2x32 is also in --sizes: the law would be fitted through it, so it would not be held "
                + "out; choose a size outside --sizes (or --held-out none)", e.getMessage());
        assertFalse(Files.exists(out));
    }

    /** Sizes of 1x16 and 1x32 whose mean loss per LR (of the grid 1e-3, 1.4e-3, 1.96e-3) is {@code losses}. */
    private static LrSweep.Result result(LrSweep.Options o, double[][] losses) {
        List<LrSweep.SizeResult> fitted = new ArrayList<>();
        double[] grid = o.lrs().stream().mapToDouble(Double::doubleValue).toArray();
        for (int i = 0; i < o.sizes().size(); i++) {
            List<LrSweep.Point> points = new ArrayList<>();
            for (int k = 0; k < grid.length; k++) {
                points.add(new LrSweep.Point(grid[k], 0, losses[i][k], 1));
            }
            fitted.add(new LrSweep.SizeResult(o.sizes().get(i), 1000L * (i + 1), points,
                    LogLinearFit.bestLr(grid, losses[i], LrSweep.FIT_HALF_WIDTH)));
        }
        LogLinearFit.Line law = LogLinearFit.line(
                fitted.stream().mapToDouble(f -> Math.log(f.nonEmbedding())).toArray(),
                fitted.stream().mapToDouble(f -> Math.log(f.best().lr())).toArray());
        return new LrSweep.Result(fitted, law, null, Double.NaN, 1, List.of());
    }

    /**
     * Every size's lowest loss at the top of the grid: the "law" through the grid ends is slope 0, r² 1. The report
     * and sweep.json say the law was not fitted, at which edge, and to widen --lrs, with no fitted numbers.
     */
    @Test
    void bestLrsAllAtAGridEdgeLeaveTheLawUnfittedAndSaySo() throws Exception {
        Path out = tmp.resolve("edge");
        Files.createDirectories(out);
        LrSweep.Options o = options(out, List.of("1x16", "1x32"), List.of(1e-3, 1.4e-3, 1.96e-3), null, false, false);
        LrSweep.Result r = result(o, new double[][] {{3.0, 2.9, 2.8}, {2.9, 2.8, 2.7}});
        assertEquals(0, r.law().slope(), 0, "the artefact the report must not present as a fit");
        assertEquals(1, r.law().r2(), 0);
        assertEquals("high", r.gridEdge());
        LrSweepReport.write(out, o, r);
        String report = Files.readString(out.resolve("report.md"));
        assertTrue(report.contains("## Law\n\n**Not fitted:** The best LR of every fitted size is at the high end of "
                + "its LR grid (the largest LR tried has the lowest loss): no size has a minimum inside the grid, so "
                + "the law was not fitted (a line through grid ends is not a measurement); widen --lrs towards higher "
                + "LRs and rerun.\n"), report);
        assertFalse(report.contains("Fitted: ln η"), report);
        JsonNode law = RunConfig.JSON.readTree(out.resolve("sweep.json").toFile()).get("law");
        assertFalse(law.get("fitted").asBoolean(), law.toString());
        assertEquals("high", law.get("gridEdge").asText());
        assertTrue(law.get("a").isNull() && law.get("r2").isNull(), law.toString());
        assertEquals(r.lawNotFitted(), law.get("note").asText());

        assertEquals("low", result(o, new double[][] {{2.8, 2.9, 3.0}, {2.7, 2.8, 2.9}}).gridEdge());
        assertEquals("both", result(o, new double[][] {{2.8, 2.9, 3.0}, {2.9, 2.8, 2.7}}).gridEdge());
        LrSweep.Result oneInside = result(o, new double[][] {{2.9, 2.8, 2.9}, {2.9, 2.8, 2.7}});
        assertNull(oneInside.gridEdge(), "one bracketed size: the law is fitted (with a caution)");
        LrSweepReport.write(out, o, oneInside);
        assertTrue(RunConfig.JSON.readTree(out.resolve("sweep.json").toFile()).at("/law/fitted").asBoolean());
        assertTrue(Files.readString(out.resolve("report.md")).contains("Fitted: ln η"));
    }

    /** A diverged sub-run is a point without a loss, recorded (and reused), not the end of the sweep. */
    @Test
    void divergedSubRunsAreRecordedAndAllDivergedIsOneLine() throws Exception {
        Path out = tmp.resolve("diverging");
        List<Double> lrs = List.of(1e30, 1.4e30, 1.96e30);
        LrSweep.Options o = new LrSweep.Options(out, List.of(LrSweep.Size.parse("1x16"), LrSweep.Size.parse("1x32")),
                null, lrs, 12, 1, 2, 32, corpus(), List.of(), false, false);
        List<Boolean> reused = new ArrayList<>();
        io.mm1j.Mm1Exception e = assertThrows(io.mm1j.Mm1Exception.class,
                () -> LrSweep.run(o, (name, p, again) -> reused.add(again)));
        assertEquals("runs diverged at every LR of [1.00e+30, 1.40e+30, 1.96e+30]: the grid needs lower LRs (--lrs)",
                e.getMessage());
        assertEquals(List.of(false, false, false), reused, "every LR of the first size ran to its divergence");
        JsonNode summary = RunConfig.JSON.readTree(out.resolve("runs/1x16_lr1.000e+30_s0/summary.json").toFile());
        assertTrue(summary.get("diverged").asBoolean(), summary.toString());
        assertTrue(summary.get("finalValLoss").isNull(), summary.toString());
        reused.clear();
        LrSweep.Options resume = new LrSweep.Options(out, o.sizes(), null, lrs, 12, 1, 2, 32, o.text(), List.of(),
                false, true);
        assertThrows(io.mm1j.Mm1Exception.class, () -> LrSweep.run(resume, (name, p, again) -> reused.add(again)));
        assertEquals(List.of(true, true, true), reused, "a diverged sub-run is not trained again");
    }

    /** Without --text the text-only sub-runs read the synthetic world's training text: that file alone is written. */
    @Test
    void theSyntheticTextIsWrittenWithoutTheWorldsPictures() throws Exception {
        Path data = tmp.resolve("sweep/data");
        Path text = LrSweep.syntheticText(data);
        assertEquals(data.resolve("text/train.txt"), text);
        try (java.util.stream.Stream<Path> s = Files.walk(data)) {
            assertEquals(List.of(Path.of("text/train.txt")), s.filter(Files::isRegularFile).map(data::relativize)
                    .toList());
        }
        assertEquals(io.mm1j.data.SynthWriter.text(LrSweep.SYNTHETIC_IMAGES, 0, "train"), Files.readString(text));
        assertTrue(Files.size(text) > 100_000, "800 documents: " + Files.size(text) + " bytes");
    }

    @Test
    void gridWithNeighboursMoreThanRootTwoApartIsRefused() {
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> LrSweep.checkGrid(List.of(1e-3, 1.5e-3)));
        assertTrue(e.getMessage().contains("√2"), e.getMessage());
        LrSweep.checkGrid(List.of(1e-3, 1.414e-3, 2e-3));
    }

    @Test
    void sizesParseAsWidthOrLayersByWidth() {
        assertEquals(new LrSweep.Size(2, 64), LrSweep.Size.parse("64"));
        assertEquals(new LrSweep.Size(4, 128), LrSweep.Size.parse("4x128"));
        assertEquals(176, new LrSweep.Size(2, 64).intermediate(), "8/3·64 = 170.7 → 176");
        assertThrows(Mm1Exception.class, () -> LrSweep.Size.parse("40"));
    }

    @Test
    void adaptiveGridPointsAreHalfPowersOfTwo() {
        assertEquals(Math.sqrt(2), LrSweep.halfPower(-13) / LrSweep.halfPower(-14), 1e-12);
        assertEquals(0.25, LrSweep.halfPower(-4), 0);
    }
}
