package io.mm1j.train;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * What an LR sweep writes beside its runs: {@code sweep.json} (every point, each size's optimum, the fitted law,
 * the held-out check), {@code report.md}, {@code loss-vs-lr.png} (mean validation loss against peak LR per size)
 * and {@code lr-law.png} (best LR against N with the fitted line beside MM1's); also the folder's marker and the
 * caution when the sizes are too few or too close for the law.
 */
final class LrSweepReport {
    /** MM1's law fit (issue 10): at least this many sizes, spanning at least {@link #MIN_SPAN}× in N. */
    static final int MIN_SIZES = 4;
    static final double MIN_SPAN = 10;

    private LrSweepReport() {}

    /** The sweep folder's marker ({@link LrSweep#MARKER}): the options the sweep was started with. */
    static ObjectNode marker(LrSweep.Options o) {
        ObjectNode m = RunConfig.JSON.createObjectNode();
        o.sizes().forEach(s -> m.withArray("sizes").add(s.name()));
        m.put("heldOut", o.heldOut() == null ? null : o.heldOut().name());
        if (o.lrs() != null) {
            o.lrs().forEach(m.withArray("lrs")::add);
        }
        m.put("steps", o.steps()).put("seeds", o.seeds()).put("batchSize", o.batchSize()).put("seqLen", o.seqLen());
        m.put("text", o.text() == null ? null : o.text().toAbsolutePath().toString());
        o.extraSets().forEach(m.withArray("sets")::add);
        return m;
    }

    /**
     * The one-line warning when the fitted sizes are fewer than {@link #MIN_SIZES} or span less than
     * {@link #MIN_SPAN}× in non-embedding N (what MM1's law fit asks for), or null.
     */
    static String coverageWarning(List<Long> ns) {
        long lo = ns.stream().mapToLong(Long::longValue).min().orElseThrow();
        long hi = ns.stream().mapToLong(Long::longValue).max().orElseThrow();
        double span = (double) hi / lo;
        if (ns.size() >= MIN_SIZES && span >= MIN_SPAN) {
            return null;
        }
        return String.format(Locale.ROOT, "--sizes: %d model sizes spanning %.1f× in non-embedding N (%,d to %,d); "
                + "the LR-law fit asks for at least %d sizes spanning at least %.0f×, so the fitted law is a rough "
                + "estimate", ns.size(), span, lo, hi, MIN_SIZES, MIN_SPAN);
    }

    static void write(Path out, LrSweep.Options o, LrSweep.Result r) {
        AtomicFiles.writeString(out.resolve("sweep.json"), json(o, r).toPrettyString());
        lossVsLr(out.resolve("loss-vs-lr.png"), r);
        law(out.resolve("lr-law.png"), r);
        AtomicFiles.writeString(out.resolve("report.md"), markdown(o, r));
    }

    private static ObjectNode json(LrSweep.Options o, LrSweep.Result r) {
        ObjectNode j = RunConfig.JSON.createObjectNode();
        j.put("steps", o.steps());
        j.put("seeds", o.seeds());
        j.put("batchSize", o.batchSize());
        j.put("seqLen", o.seqLen());
        ArrayNode sizes = j.putArray("sizes");
        r.fitted().forEach(s -> sizes.add(size(s)));
        ObjectNode law = j.putObject("law");
        boolean fitted = r.lawFitted();
        law.put("fitted", fitted);
        if (fitted) {
            law.put("a", r.law().slope());
            law.put("b", r.law().intercept());
            law.put("r2", r.law().r2());
        } else { // no numbers: a line through grid ends (often slope 0, r² 1) would read as a measurement
            law.putNull("a").putNull("b").putNull("r2");
            law.put("gridEdge", r.gridEdge());
            law.put("note", r.lawNotFitted());
        }
        law.put("mm1A", LrLaw.MM1.slope());
        law.put("mm1B", LrLaw.MM1.intercept());
        if (r.heldOut() != null) {
            ObjectNode h = size(r.heldOut());
            if (fitted) {
                h.put("predictedLr", r.predictedLr());
                h.put("ratio", r.heldOutRatio());
                h.put("withinTolerance", r.heldOutWithinTolerance());
            } else {
                h.putNull("predictedLr").putNull("ratio").putNull("withinTolerance");
            }
            j.set("heldOut", h);
        }
        j.put("wallSeconds", r.seconds());
        r.warnings().forEach(j.putArray("warnings")::add);
        return j;
    }

    private static ObjectNode size(LrSweep.SizeResult s) {
        ObjectNode n = RunConfig.JSON.createObjectNode();
        n.put("size", s.size().name());
        n.put("nonEmbedding", s.nonEmbedding());
        n.put("bestLr", s.best().lr());
        n.put("gridBestLr", s.best().gridBest());
        n.put("bracketed", s.best().bracketed());
        n.put("parabolaUsed", s.best().fitted());
        n.put("mm1Lr", LrLaw.MM1.peakLr(s.nonEmbedding()));
        ArrayNode pts = n.putArray("points");
        s.points().forEach(p -> {
            ObjectNode pt = pts.addObject().put("lr", p.lr()).put("seed", p.seed());
            Pretrainer.putFinite(pt, "valLoss", p.valLoss()); // null: diverged
            pt.put("seconds", p.seconds());
        });
        return n;
    }

    /** Mean validation loss per LR (over seeds), sorted by LR. */
    static TreeMap<Double, Double> means(List<LrSweep.Point> points) {
        TreeMap<Double, double[]> acc = new TreeMap<>();
        for (LrSweep.Point p : points) {
            double[] a = acc.computeIfAbsent(p.lr(), k -> new double[2]);
            a[0] += p.valLoss();
            a[1]++;
        }
        TreeMap<Double, Double> m = new TreeMap<>();
        acc.forEach((lr, a) -> m.put(lr, a[0] / a[1]));
        return m;
    }

    private static void lossVsLr(Path png, LrSweep.Result r) {
        XYChart c = chart("final validation loss vs peak LR (mean over seeds)", "peak LR", "validation loss (nats/token)");
        List<LrSweep.SizeResult> all = new ArrayList<>(r.fitted());
        if (r.heldOut() != null) {
            all.add(r.heldOut());
        }
        for (LrSweep.SizeResult s : all) {
            Map<Double, Double> m = means(s.points());
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            m.forEach((lr, v) -> {
                if (Double.isFinite(v)) {
                    xs.add(lr);
                    ys.add(v);
                }
            });
            if (xs.isEmpty()) {
                continue;
            }
            String label = String.format(Locale.ROOT, "%s (N=%,d)%s", s.size().name(), s.nonEmbedding(),
                    s == r.heldOut() ? " held out" : "");
            c.addSeries(label, xs, ys).setMarker(SeriesMarkers.CIRCLE);
        }
        save(c, png);
    }

    private static void law(Path png, LrSweep.Result r) {
        XYChart c = chart("best peak LR vs non-embedding parameters", "non-embedding parameters N", "best peak LR");
        c.getStyler().setYAxisLogarithmic(true);
        double[] n = r.fitted().stream().mapToDouble(LrSweep.SizeResult::nonEmbedding).toArray();
        double[] lr = r.fitted().stream().mapToDouble(s -> s.best().lr()).toArray();
        c.addSeries("measured (fitted sizes)", n, lr).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        double lo = n[0];
        double hi = n[0];
        for (double v : n) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        if (r.heldOut() != null) {
            lo = Math.min(lo, r.heldOut().nonEmbedding());
            hi = Math.max(hi, r.heldOut().nonEmbedding());
            c.addSeries("held out (measured)", new double[] {r.heldOut().nonEmbedding()},
                    new double[] {r.heldOut().best().lr()}).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter)
                    .setMarker(SeriesMarkers.DIAMOND);
        }
        double[] xs = {lo / 1.5, hi * 1.5};
        LogLinearFit.Line f = r.law();
        if (r.lawFitted()) { // through grid ends the line is no fit: the points alone are plotted
            c.addSeries(String.format(Locale.ROOT, "fit: ln η = %.4f ln N %+.4f", f.slope(), f.intercept()), xs,
                    new double[] {Math.exp(f.at(Math.log(xs[0]))), Math.exp(f.at(Math.log(xs[1])))})
                    .setMarker(SeriesMarkers.NONE);
        }
        c.addSeries("MM1: ln η = −0.4214 ln N − 0.5535", xs,
                new double[] {LrLaw.MM1.peakLr(xs[0]), LrLaw.MM1.peakLr(xs[1])}).setMarker(SeriesMarkers.NONE);
        save(c, png);
    }

    private static XYChart chart(String title, String x, String y) {
        System.setProperty("java.awt.headless", "true");
        XYChart c = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(x).yAxisTitle(y).build();
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setLegendVisible(true);
        return c;
    }

    private static void save(XYChart c, Path png) {
        try {
            Files.createDirectories(png.getParent());
            String base = png.toString().substring(0, png.toString().length() - 4);
            BitmapEncoder.saveBitmap(c, base, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new Mm1Exception(png + ": cannot write plot: " + e.getMessage(), e);
        }
    }

    static String markdown(LrSweep.Options o, LrSweep.Result r) {
        StringBuilder sb = new StringBuilder("# LR-law sweep (MM1 §3.3)\n\n");
        sb.append(String.format(Locale.ROOT, "Text-only byte-level Llamas, %d steps × batch %d × %d tokens, warm-up "
                        + "%d steps then cosine to 0.1×, %d seed(s) per LR; loss = final validation loss. Wall time %.0f s."
                        + "%n%n", o.steps(), o.batchSize(), o.seqLen(), Math.max(1, o.steps() / 10), o.seeds(),
                r.seconds()));
        sb.append("| size | non-embedding N | best LR (parabola) | grid best | bracketed | MM1 law LR |\n");
        sb.append("|---|---:|---:|---:|:---:|---:|\n");
        List<LrSweep.SizeResult> all = new ArrayList<>(r.fitted());
        if (r.heldOut() != null) {
            all.add(r.heldOut());
        }
        for (LrSweep.SizeResult s : all) {
            sb.append(String.format(Locale.ROOT, "| %s%s | %,d | %.3e%s | %.3e | %s | %.3e |%n", s.size().name(),
                    s == r.heldOut() ? " (held out)" : "", s.nonEmbedding(), s.best().lr(),
                    s.best().fitted() ? "" : " (grid)", s.best().gridBest(), s.best().bracketed() ? "yes" : "**no**",
                    LrLaw.MM1.peakLr(s.nonEmbedding())));
        }
        sb.append("\n## Mean validation loss per LR\n\n");
        for (LrSweep.SizeResult s : all) {
            sb.append("- ").append(s.size().name()).append(": ");
            List<String> cells = new ArrayList<>();
            means(s.points()).forEach((lr, v) -> cells.add(String.format(Locale.ROOT, "%.2e → %.4f", lr, v)));
            sb.append(String.join(", ", cells)).append('\n');
        }
        for (String w : r.warnings()) {
            sb.append("\n**Caution:** ").append(w).append(".\n");
        }
        LogLinearFit.Line f = r.law();
        long unbracketed = r.fitted().stream().filter(s -> !s.best().bracketed()).count();
        if (!r.lawFitted()) {
            sb.append(String.format(Locale.ROOT, "%n## Law%n%n**Not fitted:** %s.%n%nMM1:    ln η = %.4f · ln N %+.4f"
                    + "%n%n", r.lawNotFitted().substring(0, 1).toUpperCase(Locale.ROOT)
                    + r.lawNotFitted().substring(1), LrLaw.MM1.slope(), LrLaw.MM1.intercept()));
            if (r.heldOut() != null) {
                sb.append(String.format(Locale.ROOT, "Held-out %s (N = %,d): measured %.3e; not checked, as there is "
                        + "no fitted law to predict it.%n%n", r.heldOut().size().name(), r.heldOut().nonEmbedding(),
                        r.heldOut().best().lr()));
            }
            sb.append("![loss vs LR](loss-vs-lr.png)\n\n![LR law](lr-law.png)\n");
            return sb.toString();
        }
        if (unbracketed > 0) {
            sb.append(String.format(Locale.ROOT, "%n**Caution:** %d of the %d fitted sizes have their lowest loss at an "
                    + "end of the LR grid (column 'bracketed'): their optimum may lie outside it, and the law below "
                    + "is fitted through grid ends, not minima. Widen --lrs (or let the adaptive grid grow) and rerun."
                    + "%n", unbracketed, r.fitted().size()));
        }
        sb.append(String.format(Locale.ROOT, "%n## Law%n%nFitted: ln η = %.4f · ln N %+.4f (r² = %.3f, %d sizes)  %n"
                        + "MM1:    ln η = %.4f · ln N %+.4f%n%n", f.slope(), f.intercept(), f.r2(), r.fitted().size(),
                LrLaw.MM1.slope(), LrLaw.MM1.intercept()));
        if (r.heldOut() != null) {
            sb.append(String.format(Locale.ROOT, "Held-out %s (N = %,d): predicted %.3e, measured %.3e, ratio %.2f → "
                            + "%s the ×%.1f tolerance.%n%n", r.heldOut().size().name(), r.heldOut().nonEmbedding(),
                    r.predictedLr(), r.heldOut().best().lr(), r.heldOutRatio(),
                    r.heldOutWithinTolerance() ? "within" : "outside", LrSweep.TOLERANCE));
        }
        sb.append("![loss vs LR](loss-vs-lr.png)\n\n![LR law](lr-law.png)\n");
        return sb.toString();
    }
}
