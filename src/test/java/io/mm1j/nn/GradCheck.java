package io.mm1j.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/** Central finite differences (float64) against autograd for a few random elements of one parameter. */
public final class GradCheck {
    private GradCheck() {}

    /** Maximum relative error over {@code samples} elements of {@code param}. */
    public static double maxRelativeError(NDArray param, Supplier<NDArray> loss, int samples, long seed) {
        param.setRequiresGradient(true);
        double[] grad;
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            gc.backward(loss.get());
        }
        try (NDArray g = param.getGradient()) {
            grad = g.toDoubleArray();
        }
        double[] base = param.toDoubleArray();
        SplittableRandom r = new SplittableRandom(seed);
        double scale = 0;
        for (double g : grad) {
            scale = Math.max(scale, Math.abs(g));
        }
        // Relative error, with a floor at 1e-3 of the largest gradient so that near-zero entries (where central
        // differences only see rounding noise) do not dominate.
        double floor = Math.max(1e-12, 1e-3 * scale);
        double worst = 0;
        double eps = 1e-5;
        for (int i = 0; i < samples; i++) {
            int idx = r.nextInt(base.length);
            double orig = base[idx];
            base[idx] = orig + eps;
            param.set(base);
            double up = loss.get().getDouble();
            base[idx] = orig - eps;
            param.set(base);
            double down = loss.get().getDouble();
            base[idx] = orig;
            param.set(base);
            double fd = (up - down) / (2 * eps);
            double err = Math.abs(fd - grad[idx]) / Math.max(floor, Math.abs(fd) + Math.abs(grad[idx]));
            worst = Math.max(worst, err);
        }
        param.setRequiresGradient(false);
        return worst;
    }
}
