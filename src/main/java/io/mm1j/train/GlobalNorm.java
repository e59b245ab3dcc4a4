package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.ScriptKernels;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Global-norm gradient clipping shared by the optimisers (DJL's optClipGrad clips element values: cookbook
 * pitfall 5): the squared gradient norm of each parameter fetched in one transfer, and the rescaling.
 */
final class GlobalNorm {
    private GlobalNorm() {}

    /**
     * ‖g‖² of each named parameter's gradient, in order. A parameter that no gradient reached this step (e.g. the
     * image encoder on a text-only batch) has exactly 0, which the optimisers take as "skip it", as PyTorch's skip
     * parameters whose grad is None.
     */
    static double[] squares(ParamStore params, Collection<String> names) {
        try (NDScope scope = new NDScope()) { // frees the gradient views and the temporaries
            List<NDArray> grads = gradients(params, names);
            double[] fused = ScriptKernels.squaredNorms(grads); // null when the kernel is off or unavailable
            if (fused != null) {
                return fused;
            }
            NDList parts = new NDList();
            for (NDArray g : grads) {
                parts.add(g.square().sum().toType(DataType.FLOAT64, false));
            }
            double[] sq = parts.isEmpty() ? new double[0] : NDArrays.stack(parts).toDoubleArray();
            scope.suppressNotUsedWarning();
            return sq;
        }
    }

    /** The gradient of each named parameter (views registered in the caller's scope). */
    private static List<NDArray> gradients(ParamStore params, Collection<String> names) {
        List<NDArray> grads = new ArrayList<>(names.size());
        for (String name : names) {
            grads.add(params.get(name).getGradient());
        }
        return grads;
    }

    /** Scales the gradients so that their global L2 norm is at most {@code maxNorm}; returns the norm before. */
    static double clip(ParamStore params, Collection<String> names, double[] squares, double maxNorm) {
        double sq = 0;
        for (double v : squares) {
            sq += v;
        }
        double norm = Math.sqrt(sq);
        if (maxNorm > 0 && norm > maxNorm) {
            double factor = maxNorm / (norm + 1e-6);
            try (NDScope scope = new NDScope()) {
                List<NDArray> grads = gradients(params, names);
                if (!ScriptKernels.scaleInPlace(grads, factor)) { // false when off or unavailable
                    for (NDArray g : grads) {
                        g.muli(factor);
                    }
                }
                scope.suppressNotUsedWarning();
            }
        }
        return norm;
    }

    /**
     * Whether an optimizer step may go ahead: false (logged, naming the step) when the squared gradient norms hold
     * a NaN or an infinity, in which case the caller zeroes the gradients and skips the step.
     */
    static boolean finite(double[] squares, long nextStep, org.slf4j.Logger log) {
        double total = 0;
        for (double v : squares) {
            total += v;
        }
        if (Double.isFinite(total)) {
            return true;
        }
        // the training loop names the step it skips; other callers get this line
        log.debug("skipping optimizer update {}: gradient norm is {}", nextStep, Math.sqrt(total));
        return false;
    }
}
