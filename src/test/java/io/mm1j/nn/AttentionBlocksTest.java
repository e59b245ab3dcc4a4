package io.mm1j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.ManagedNdTest;
import org.junit.jupiter.api.Test;

/** Query-blocked attention computes the same function as the one-block path. */
class AttentionBlocksTest extends ManagedNdTest {
    private NDArray rand(long... shape) {
        return m.randomNormal(new Shape(shape), DataType.FLOAT64);
    }

    @Test
    void queryBlocksEqualThePlainPathWithCausalAndPaddingMasksAndGqa() {
        // B=2, H=4 query heads over KV=2 heads, T=S=11 (not a multiple of the block), hd=8
        NDArray q = rand(2, 4, 11, 8);
        NDArray k = rand(2, 2, 11, 8);
        NDArray v = rand(2, 2, 11, 8);
        NDArray scale = m.create(1 / Math.sqrt(8));
        NDArray causal = new Attention(m).causal(11, 11, 0, DataType.FLOAT64); // (1, 1, 1, T, S)
        NDArray keep = m.create(new long[] {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
                new Shape(2, 11));
        NDArray both = causal.add(Attention.padding(keep, DataType.FLOAT64)); // (B, 1, 1, T, S)
        long rowBytes = 2L * 4 * 11 * 8; // one query row of scores: B·H·S float64
        for (NDArray mask : new NDArray[] {null, causal, both}) {
            NDArray plain = Attention.attend(q, k, v, mask, scale, Long.MAX_VALUE);
            for (long rows : new long[] {1, 3, 4, 10}) {
                NDArray blocked = Attention.attend(q, k, v, mask, scale, rows * rowBytes);
                assertEquals(plain.getShape(), blocked.getShape());
                assertArrayEquals(plain.toDoubleArray(), blocked.toDoubleArray(), 1e-12,
                        "rows per block " + rows + ", mask " + (mask == null ? "none" : mask.getShape()));
            }
        }
    }

    @Test
    void inferenceSplitsLongSequencesAutomaticallyAndStaysWithinFloatTolerance() {
        // float32, 1 × 2 heads × 2100 queries × 2100 keys = 35 MB of scores > the 32 MiB block budget
        NDArray q = m.randomNormal(new Shape(1, 2, 2100, 4));
        NDArray k = m.randomNormal(new Shape(1, 2, 2100, 4));
        NDArray v = m.randomNormal(new Shape(1, 2, 2100, 4));
        NDArray scale = m.create(0.5f);
        // the composed path (the fused kernel, when present, keeps no scores at all: ScriptKernelsTest)
        NDArray auto = ScriptKernelsTest.with(false, () -> Attention.attend(q, k, v, null, scale));
        NDArray plain = Attention.attend(q, k, v, null, scale, Long.MAX_VALUE);
        float[] a = auto.toFloatArray();
        float[] b = plain.toFloatArray();
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        assertEquals(0, worst, 1e-5, "largest difference between blocked and plain attention");
    }

    @Test
    void perRowBlocksEqualOneCallForAPerTokenMlp() {
        NDArray x = rand(3, 50, 8);
        NDArray w1 = rand(16, 8);
        NDArray w2 = rand(8, 16);
        java.util.function.UnaryOperator<NDArray> mlp = t -> Ops.linear(Ops.silu(Ops.linear(t, w1)), w2);
        // widest = 2^22 float64 values per row → one row per 32 MiB block: 150 blocks
        NDArray blocked = BlockScope.perRow(x, 1L << 22, mlp);
        assertEquals(x.getShape(), blocked.getShape());
        assertArrayEquals(mlp.apply(x).toDoubleArray(), blocked.toDoubleArray(), 1e-13);
    }
}
