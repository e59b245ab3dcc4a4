package io.mm1j.train;

import java.util.Arrays;
import java.util.TreeMap;

/**
 * The two fits of an LR-law sweep (MM1 §3.3): the best peak LR of one model size as the vertex of a least-squares
 * parabola of validation loss in ln(LR) around the grid minimum, and {@code ln η = a·ln N + b} as an ordinary
 * least-squares line through the per-size optima. Pure functions on doubles.
 */
public final class LogLinearFit {
    private LogLinearFit() {}

    /** {@code y = slope·x + intercept}, with the coefficient of determination. */
    public record Line(double slope, double intercept, double r2) {
        public double at(double x) {
            return slope * x + intercept;
        }
    }

    /** {@code y = a·x² + b·x + c}. */
    public record Parabola(double a, double b, double c) {
        public double at(double x) {
            return (a * x + b) * x + c;
        }
    }

    /**
     * The best LR of one size.
     *
     * @param lr        the LR at the fitted minimum (the grid's best LR when the fit is unusable)
     * @param gridBest  the grid LR with the lowest mean loss
     * @param bracketed the grid minimum has a grid point on both sides (otherwise the true optimum may lie outside)
     * @param fitted    the parabola was convex and its vertex was used
     * @param parabola  the fitted parabola in x = ln(LR), or null when fewer than 3 distinct LRs were available
     */
    public record Minimum(double lr, double gridBest, boolean bracketed, boolean fitted, Parabola parabola) {}

    /** Ordinary least squares {@code y ≈ slope·x + intercept}; at least two distinct x. */
    public static Line line(double[] x, double[] y) {
        check(x, y, 2);
        double mx = mean(x);
        double my = mean(y);
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        if (sxx == 0) {
            throw new IllegalArgumentException("a line needs at least two distinct x values");
        }
        double slope = sxy / sxx;
        double r2 = syy == 0 ? 1 : sxy * sxy / (sxx * syy);
        return new Line(slope, my - slope * mx, r2);
    }

    /** Least-squares parabola through the points (normal equations, centred on mean x for conditioning). */
    public static Parabola parabola(double[] x, double[] y) {
        check(x, y, 3);
        double m = mean(x);
        // sums of powers of u = x − m
        double[] s = new double[5];
        double[] t = new double[3];
        for (int i = 0; i < x.length; i++) {
            double u = x[i] - m;
            double p = 1;
            for (int k = 0; k < 5; k++) {
                s[k] += p;
                if (k < 3) {
                    t[k] += p * y[i];
                }
                p *= u;
            }
        }
        // [s4 s3 s2; s3 s2 s1; s2 s1 s0] · [a; b; c] = [t2; t1; t0] in u
        double[][] mtx = {{s[4], s[3], s[2]}, {s[3], s[2], s[1]}, {s[2], s[1], s[0]}};
        double[] sol = solve3(mtx, new double[] {t[2], t[1], t[0]});
        double a = sol[0];
        double bu = sol[1];
        double cu = sol[2];
        // back to x: a(x − m)² + bu(x − m) + cu
        return new Parabola(a, bu - 2 * a * m, a * m * m - bu * m + cu);
    }

    /**
     * The best LR from (LR, loss) points, several per LR allowed (seeds): the distinct LR with the lowest mean loss,
     * then a least-squares parabola in ln(LR) through all points of the distinct LRs within {@code halfWidth} grid
     * steps of it; its vertex, kept within the fitted LRs, is the best LR. A non-convex fit, or fewer than three
     * distinct LRs, falls back to the grid minimum.
     */
    public static Minimum bestLr(double[] lrs, double[] losses, int halfWidth) {
        check(lrs, losses, 1);
        if (halfWidth < 1) {
            throw new IllegalArgumentException("halfWidth must be >= 1");
        }
        TreeMap<Double, double[]> byLr = new TreeMap<>(); // lr → {sum, count}
        java.util.Set<Double> diverged = new java.util.HashSet<>();
        for (int i = 0; i < lrs.length; i++) {
            if (lrs[i] > 0 && !Double.isFinite(losses[i])) {
                diverged.add(lrs[i]); // an LR where any seed diverged is worse than every finite one: left out
            }
        }
        for (int i = 0; i < lrs.length; i++) {
            if (!(lrs[i] > 0) || diverged.contains(lrs[i])) {
                continue;
            }
            double[] acc = byLr.computeIfAbsent(lrs[i], k -> new double[2]);
            acc[0] += losses[i];
            acc[1]++;
        }
        if (byLr.isEmpty()) {
            throw new IllegalArgumentException("no finite losses");
        }
        Double[] grid = byLr.keySet().toArray(new Double[0]);
        int best = 0;
        for (int i = 1; i < grid.length; i++) {
            double[] a = byLr.get(grid[i]);
            double[] b = byLr.get(grid[best]);
            if (a[0] / a[1] < b[0] / b[1]) {
                best = i;
            }
        }
        boolean bracketed = best > 0 && best < grid.length - 1;
        int lo = Math.max(0, best - halfWidth);
        int hi = Math.min(grid.length - 1, best + halfWidth);
        if (hi - lo + 1 < 3) {
            return new Minimum(grid[best], grid[best], bracketed, false, null);
        }
        double[] xs = new double[lrs.length];
        double[] ys = new double[lrs.length];
        int n = 0;
        for (int i = 0; i < lrs.length; i++) {
            if (lrs[i] >= grid[lo] && lrs[i] <= grid[hi] && !diverged.contains(lrs[i])) {
                xs[n] = Math.log(lrs[i]);
                ys[n] = losses[i];
                n++;
            }
        }
        Parabola p = parabola(Arrays.copyOf(xs, n), Arrays.copyOf(ys, n));
        if (!(p.a() > 0)) {
            return new Minimum(grid[best], grid[best], bracketed, false, p);
        }
        double vertex = -p.b() / (2 * p.a());
        double x = Math.min(Math.log(grid[hi]), Math.max(Math.log(grid[lo]), vertex));
        return new Minimum(Math.exp(x), grid[best], bracketed, true, p);
    }

    private static double[] solve3(double[][] a, double[] b) {
        double det = det3(a);
        if (Math.abs(det) < 1e-300) {
            throw new IllegalArgumentException("a parabola needs at least three distinct x values");
        }
        double[] out = new double[3];
        for (int col = 0; col < 3; col++) {
            double[][] m = {a[0].clone(), a[1].clone(), a[2].clone()};
            for (int r = 0; r < 3; r++) {
                m[r][col] = b[r];
            }
            out[col] = det3(m) / det; // Cramer's rule: fine for a well-conditioned 3×3
        }
        return out;
    }

    private static double det3(double[][] m) {
        return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double d : v) {
            s += d;
        }
        return s / v.length;
    }

    private static void check(double[] x, double[] y, int min) {
        if (x.length != y.length) {
            throw new IllegalArgumentException("x and y differ in length: " + x.length + " vs " + y.length);
        }
        if (x.length < min) {
            throw new IllegalArgumentException("need at least " + min + " points, got " + x.length);
        }
    }
}
