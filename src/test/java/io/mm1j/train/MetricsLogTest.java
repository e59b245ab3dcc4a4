package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {
    @TempDir
    Path dir;

    @Test
    void writesOneJsonLinePerStepAndAPlot() throws Exception {
        Path f = dir.resolve("run/metrics.jsonl");
        try (MetricsLog log = new MetricsLog(f)) {
            for (int s = 0; s < 20; s++) {
                log.log(s, Map.of("loss", 5.0 / (s + 1)));
            }
            assertEquals(20, log.series("loss").size());
            Plots.lines(dir.resolve("run/plots/loss.png"), "loss", "nats", Map.of("loss", log.series("loss")), true);
        }
        List<String> lines = Files.readAllLines(f);
        assertEquals(20, lines.size());
        assertEquals("{\"step\":3,\"loss\":1.25}", lines.get(3));
        BufferedImage png = ImageIO.read(dir.resolve("run/plots/loss.png").toFile());
        assertEquals(900, png.getWidth());
        assertTrue(png.getHeight() > 100);
    }

    @Test
    void resumingDropsLinesAfterTheCheckpointAndKeepsTheRestForPlots() throws Exception {
        Path f = dir.resolve("metrics.jsonl");
        try (MetricsLog log = new MetricsLog(f)) {
            for (int s = 1; s <= 8; s++) {
                log.log(s, Map.of("loss", (double) s));
            }
        }
        Files.writeString(f, "{\"step\":9,\"lo", java.nio.file.StandardOpenOption.APPEND); // cut by a kill
        try (MetricsLog log = new MetricsLog(f, 5)) { // resumed from the checkpoint of step 5
            assertEquals(5, log.series("loss").size());
            assertEquals(5.0, log.series("loss").get(4)[1]);
            log.log(6, Map.of("loss", 60.0));
        }
        List<String> lines = Files.readAllLines(f);
        assertEquals(6, lines.size());
        assertEquals("{\"step\":5,\"loss\":5.0}", lines.get(4));
        assertEquals("{\"step\":6,\"loss\":60.0}", lines.get(5));
    }
}
