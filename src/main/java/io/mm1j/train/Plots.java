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
    /** Series with at most this many points are drawn with a marker at each point. */
    static final int SPARSE = 25;

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
        // XChart labels a log axis at decades only: below two decades of range a linear axis reads better
        double lo = Double.MAX_VALUE;
        double hi = 0;
        for (List<double[]> pts : series.values()) {
            for (double[] p : pts) {
                if (p[1] > 0 && Double.isFinite(p[1])) {
                    lo = Math.min(lo, p[1]);
                    hi = Math.max(hi, p[1]);
                }
            }
        }
        boolean log = logY && hi / lo > 100;
        chart.getStyler().setYAxisLogarithmic(log);
        chart.getStyler().setXAxisTickMarkSpacingHint(90); // round steps (1, 2, 5 × 10^n) at least 90 px apart
        chart.getStyler().setYAxisTickMarkSpacingHint(50);
        chart.getStyler().setXAxisDecimalPattern("#,##0");
        if (!log) {
            chart.getStyler().setYAxisDecimalPattern(hi < 0.01 ? "0.0E0" : hi < 10 ? "0.0##" : "#,##0.#");
        }
        chart.getStyler().setLegendVisible(series.size() > 1);
        series.forEach((name, points) -> {
            if (points.isEmpty()) {
                return;
            }
            double[] x = new double[points.size()];
            double[] y = new double[points.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = points.get(i)[0];
                y[i] = log ? Math.max(points.get(i)[1], 1e-6) : points.get(i)[1];
            }
            // a sparse series (evaluations) gets a dot per point: one point alone would draw nothing
            chart.addSeries(name, x, y).setMarker(x.length <= SPARSE ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
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

    /**
     * Grouped bar chart with error bars: one group per category, one bar per series; {@code err[series][i]} is the
     * half-width drawn around {@code values[series][i]} (NaN values are drawn as 0 without a bar of error).
     */
    public static void bars(Path png, String title, String yLabel, List<String> categories,
                            Map<String, double[]> values, Map<String, double[]> err) {
        System.setProperty("java.awt.headless", "true");
        org.knowm.xchart.CategoryChart chart = new org.knowm.xchart.CategoryChartBuilder().width(900).height(520)
                .title(title).yAxisTitle(yLabel).build();
        chart.getStyler().setLegendVisible(values.size() > 1);
        chart.getStyler().setErrorBarsColor(java.awt.Color.DARK_GRAY);
        chart.getStyler().setYAxisDecimalPattern("#,##0.##");
        values.forEach((name, v) -> {
            double[] e = err.get(name);
            java.util.List<Double> y = new java.util.ArrayList<>();
            java.util.List<Double> ey = new java.util.ArrayList<>();
            for (int i = 0; i < v.length; i++) {
                y.add(Double.isFinite(v[i]) ? v[i] : 0);
                ey.add(e != null && Double.isFinite(e[i]) ? e[i] : 0);
            }
            chart.addSeries(name, categories, y, ey);
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
