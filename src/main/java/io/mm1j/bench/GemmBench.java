package io.mm1j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;

/** FP32 matrix-multiply throughput: the roofline every MFU figure in mm1j is divided by (measured in the same run). */
public final class GemmBench {
    private GemmBench() {}

    /** Median GFLOP/s of {@code reps} n×n×n sgemm calls after one warm-up. */
    public static double gflops(NDManager root, int n, int reps) {
        try (NDManager m = root.newSubManager()) {
            NDArray a = m.randomNormal(new Shape(n, n), DataType.FLOAT32);
            NDArray b = m.randomNormal(new Shape(n, n), DataType.FLOAT32);
            a.matMul(b).close(); // warm-up
            double[] rates = new double[reps];
            for (int i = 0; i < reps; i++) {
                long t0 = System.nanoTime();
                NDArray c = a.matMul(b);
                c.toType(DataType.FLOAT32, false).getFloat(0, 0); // force completion (async engines)
                long t1 = System.nanoTime();
                c.close();
                rates[i] = 2.0 * n * n * (double) n / ((t1 - t0) / 1e9) / 1e9;
            }
            Arrays.sort(rates);
            return rates[reps / 2];
        }
    }

    public static ObjectNode run(NDManager root, int n, int reps) {
        double g = gflops(root, n, reps);
        ObjectNode o = Bench.report("gemm");
        o.put("n", n);
        o.put("reps", reps);
        o.put("dtype", "float32");
        o.put("gflops", g);
        return PeakRss.addTo(o);
    }
}
