package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 compare-runs}: one metric of several runs in one plot, offsets, and refused inputs. */
class CompareRunsTest {
    @TempDir
    Path tmp;

    private Path run(String name, double... valLoss) {
        Path dir = tmp.resolve(name);
        try (MetricsLog m = new MetricsLog(dir.resolve("metrics.jsonl"))) {
            for (int i = 0; i < valLoss.length; i++) {
                m.log(10L * (i + 1), Map.of("loss", valLoss[i] + 0.1));
                m.log(10L * (i + 1), Map.of("valLoss", valLoss[i]));
            }
        }
        return dir;
    }

    @Test
    void plotsEveryRunAndTabulatesLastAndLowestValuesWithOffsets() throws Exception {
        Path a = run("dense", 3.0, 2.5, 2.6);
        Path b = run("moe", 2.4, 2.2);
        Path png = tmp.resolve("cmp.png");
        PretrainRuns.Cli c = PretrainRuns.cli("compare-runs", "--runs", a + "," + b, "--labels", "dense,MoE",
                "--offsets", "0,30", "--metric", "valLoss", "--out", png.toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(Files.size(png) > 1000, "PNG written");
        List<String> rows = c.out().lines().toList();
        assertEquals(List.of("dense", "30", "2.6000", "20", "2.5000"), List.of(rows.get(1).split("\\s+")));
        assertEquals(List.of("MoE", "50", "2.2000", "50", "2.2000"), List.of(rows.get(2).split("\\s+")));

        List<RunComparison.Series> s = RunComparison.read(List.of(a, b), List.of(), List.of(0L, 30L), "valLoss");
        assertEquals("moe", s.get(1).label());
        assertEquals(40, s.get(1).points().get(0)[0], 0, "first step 10 + offset 30");

        PretrainRuns.Cli again = PretrainRuns.cli("compare-runs", "--runs", a.toString(), "--out", png.toString());
        assertEquals(1, again.code());
        assertEquals("mm1: error: --out " + png + ": exists (pass --overwrite to replace it)", again.err().strip());
    }

    @Test
    void missingFilesAndMetricsAreRefusedByName() throws Exception {
        Path a = run("dense", 3.0);
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        PretrainRuns.Cli c = PretrainRuns.cli("compare-runs", "--runs", a + "," + empty, "--out",
                tmp.resolve("x.png").toString());
        assertEquals(1, c.code());
        assertEquals("mm1: error: " + empty + ": no metrics.jsonl (not a pretrain run folder?)", c.err().strip());
        PretrainRuns.Cli m = PretrainRuns.cli("compare-runs", "--runs", a.toString(), "--metric", "eval/cider@4",
                "--out", tmp.resolve("y.png").toString());
        assertEquals(1, m.code());
        assertEquals("mm1: error: " + a.resolve("metrics.jsonl") + ": no 'eval/cider@4' values (metrics there: "
                + "loss, valLoss)", m.err().strip());
        PretrainRuns.Cli l = PretrainRuns.cli("compare-runs", "--runs", a.toString(), "--labels", "a,b", "--out",
                tmp.resolve("z.png").toString());
        assertEquals(1, l.code());
        assertEquals("mm1: error: --labels: 2 label(s) for 1 run(s)", l.err().strip());
        assertTrue(!Files.exists(tmp.resolve("x.png")) && !Files.exists(tmp.resolve("y.png")), "nothing written");
    }
}
