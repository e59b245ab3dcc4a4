package io.mm1j.train;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG line charts of training curves (XChart, headless), for people who would rather look than read JSONL. */
public final class Plots {
    private Plots() {}

    /**
     * Draws each named series of (step, value) pairs as one line and writes {@code png}.
     *
     * @param logY log-scale y axis (losses spanning orders of magnitude)
     */
    public static void lines(Path png, String title, String yLabel, Map<String, List<double[]>> series, boolean logY) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(520).title(title).xAxisTitle("step")
                .yAxisTitle(yLabel).build();
        chart.getStyler().setYAxisLogarithmic(logY);
        chart.getStyler().setLegendVisible(series.size() > 1);
        series.forEach((name, points) -> {
            if (points.isEmpty()) {
                return;
            }
            double[] x = new double[points.size()];
            double[] y = new double[points.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = points.get(i)[0];
                y[i] = logY ? Math.max(points.get(i)[1], 1e-6) : points.get(i)[1];
            }
            chart.addSeries(name, x, y).setMarker(SeriesMarkers.NONE);
        });
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            String base = png.toString().endsWith(".png") ? png.toString().substring(0, png.toString().length() - 4)
                    : png.toString();
            BitmapEncoder.saveBitmap(chart, base, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new Mm1Exception(png + ": cannot write plot: " + e.getMessage(), e);
        }
    }
}
