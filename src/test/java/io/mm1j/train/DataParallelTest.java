package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.TestSupport;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.data.Batch;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.tokenizer.SpecialTokens;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * {@link DataParallel} through {@link TrainLoop}: a batch split over two replicas on the CPU device (gradients summed
 * onto the master, the update broadcast) trains exactly as the unsplit batch on one model, in float64.
 */
class DataParallelTest {
    static final int T = 12;
    static final int K = 4; // tiny-test's image tokens

    /**
     * Four rows with unequal numbers of trained tokens (padding at the ends), pictures in rows 0 and 3, so the two
     * slices weigh differently and the vision tower and connector get gradients from both.
     */
    static Batch batch() {
        int b = 4;
        long[] tokens = new long[b * T];
        long[] targets = new long[b * T];
        float[] loss = new float[b * T];
        int[] segments = new int[b * T];
        byte[] sources = new byte[b * T];
        int[] length = {12, 7, 10, 9};
        List<Batch.ImageSlot> images = new ArrayList<>();
        java.util.Random rnd = new java.util.Random(5);
        for (int r = 0; r < b; r++) {
            boolean image = r == 0 || r == 3;
            for (int i = 0; i < T; i++) {
                int at = r * T + i;
                boolean pad = i >= length[r];
                boolean slot = image && i >= 1 && i <= K;
                tokens[at] = pad ? SpecialTokens.PAD_ID : i == 0 ? SpecialTokens.BOS_ID
                        : slot ? SpecialTokens.IMAGE_ID : 20 + rnd.nextInt(200);
                segments[at] = pad ? -1 : 0;
                sources[at] = (byte) (pad ? -1 : 0);
            }
            for (int i = 0; i < T; i++) {
                int at = r * T + i;
                targets[at] = i + 1 < length[r] ? tokens[at + 1] : SpecialTokens.PAD_ID;
                loss[at] = i + 1 < length[r] && tokens[at + 1] != SpecialTokens.IMAGE_ID ? 1 : 0;
            }
            if (image) {
                float[] px = new float[3 * 32 * 32];
                for (int i = 0; i < px.length; i++) {
                    px[i] = rnd.nextFloat() * 2 - 1;
                }
                images.add(new Batch.ImageSlot(r, 1, px));
            }
        }
        return new Batch(b, T, tokens, targets, loss, images, K, null, segments, sources);
    }

    /** AdamW that keeps a float64 copy of the (clipped) gradients it is given at each step. */
    static final class Recording implements Optimizer {
        final AdamW inner;
        final Mm1Model model;
        final List<Map<String, double[]>> grads = new ArrayList<>();

        Recording(Mm1Model model) {
            this.model = model;
            this.inner = AdamW.standard(model.params());
        }

        @Override
        public double clipGlobalNorm(double maxNorm) {
            return inner.clipGlobalNorm(maxNorm);
        }

        @Override
        public boolean step(double lr, double weightDecay) {
            Map<String, double[]> g = new LinkedHashMap<>();
            model.params().all().forEach((n, a) -> {
                // (a parameter no forward reaches, such as CLIP's post_layernorm here, keeps DJL's float32 zeros)
                try (NDArray grad = a.getGradient(); NDArray g64 = grad.toType(DataType.FLOAT64, true)) {
                    g.put(n, g64.toDoubleArray());
                }
            });
            grads.add(g);
            return inner.step(lr, weightDecay);
        }

        @Override
        public void scaleLr(String prefix, double factor) {
            inner.scaleLr(prefix, factor);
        }

        @Override
        public Map<String, NDArray> state() {
            return inner.state();
        }

        @Override
        public void load(Function<String, float[]> lookup, long stepCount, String where) {
            inner.load(lookup, stepCount, where);
        }

        @Override
        public void zeroGrad() {
            inner.zeroGrad();
        }

        @Override
        public long stepCount() {
            return inner.stepCount();
        }

        @Override
        public long trainableParameters() {
            return inner.trainableParameters();
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    static final TrainLoop.Listener QUIET = new TrainLoop.Listener() {
        @Override
        public void onStep(long step, Map<String, Double> metrics) {}

        @Override
        public void onEval(long step, Map<String, Double> metrics) {}

        @Override
        public void onCheckpoint(long step, Batch last) {}
    };

    static Mm1Model model(Mm1Config cfg, NDManager m) {
        Engines.init(11); // the same initial weights for every model built here
        Mm1Model model = Mm1Model.init(cfg, m, DataType.FLOAT64);
        model.params().enableGradients();
        return model;
    }

    /** Two steps on the same batch; returns the optimizer (its recorded gradients) with the model's final weights. */
    static Map<String, double[]> train(Mm1Model model, DataParallel dp, Recording opt, int steps) {
        TrainLoop.Settings s = new TrainLoop.Settings(steps, 0, 1, 1.0, 0.1, true, 0, 0, List.of("a"), 0, 0, false);
        Iterator<Batch> data = Collections.nCopies(steps, batch()).iterator();
        new TrainLoop(model, opt, new LrSchedule(1e-2, 0, steps, 0.1), s, Map.of(), QUIET).dataParallel(dp)
                .run(data, 0, () -> false);
        Map<String, double[]> w = new LinkedHashMap<>();
        model.params().all().forEach((n, a) -> w.put(n, a.toDoubleArray()));
        return w;
    }

    @Test
    void twoReplicasOnTheCpuGiveTheUnsplitBatchsGradientsAndUpdates() {
        Mm1Config cfg = Presets.load("tiny-test");
        try (NDManager m = TestSupport.root().newSubManager()) {
            Mm1Model one = model(cfg, m);
            Map<String, double[]> before = new LinkedHashMap<>();
            one.params().all().forEach((n, a) -> before.put(n, a.toDoubleArray()));
            Recording optOne = new Recording(one);
            Map<String, double[]> wOne = train(one, null, optOne, 2);

            Mm1Model master = model(cfg, m);
            Recording optDp = new Recording(master);
            Map<String, double[]> wDp;
            try (DataParallel dp = new DataParallel(master, List.of(Device.cpu()), r -> model(cfg, r))) {
                assertEquals(2, dp.size());
                wDp = train(master, dp, optDp, 2);
                // the broadcast left the replica with the master's weights
                dp.replica(1).params().all().forEach((n, a) ->
                        assertArrayEquals(master.params().get(n).toDoubleArray(), a.toDoubleArray(), 0, n));
            }
            // float64: the split only changes the order of summation, so 1e-12 (absolute) is ample
            for (int step = 0; step < 2; step++) {
                for (String n : wOne.keySet()) {
                    assertArrayEquals(optOne.grads.get(step).get(n), optDp.grads.get(step).get(n), 1e-12,
                            "gradient of " + n + " at step " + (step + 1));
                }
            }
            double moved = 0;
            for (String n : wOne.keySet()) {
                assertArrayEquals(wOne.get(n), wDp.get(n), 1e-12, n);
                for (int i = 0; i < wOne.get(n).length; i++) {
                    moved = Math.max(moved, Math.abs(wOne.get(n)[i] - before.get(n)[i]));
                }
            }
            assertTrue(moved > 1e-3, "the steps changed the weights (max change " + moved + ")");
            // every component trained: the vision tower's patch embedding got a gradient from the pictures
            double patch = 0;
            for (double g : optOne.grads.get(0).get("vision_model.embeddings.patch_embedding.weight")) {
                patch = Math.max(patch, Math.abs(g));
            }
            assertTrue(patch > 0, "the vision tower got a gradient");
            optOne.close();
            optDp.close();
            one.close();
            master.close();
        }
    }
}
