package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mm1j.TestSupport;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.Presets;
import io.mm1j.config.Mm1Config;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import java.util.List;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mixed precision: refused on the CPU with a clear message, and its code path (FP16 linear layers over FP32 master
 * weights) checked on the CPU by switching the compute type on directly, as the GPU run does.
 */
class MixedPrecisionTest {
    @TempDir
    Path tmp;

    @Test
    void mixedPrecisionOnTheCpuIsRefusedBeforeTheRunFolderIsMade() {
        Path out = tmp.resolve("run");
        TestSupport.CliRun r = TestSupport.cli("pretrain", "--preset", "tiny-test", "--steps", "1", "--out",
                out.toString(), "--device", "cpu", "--mixed-precision", "bf16");
        assertEquals(1, r.code());
        assertEquals("mm1: error: train.mixed_precision bf16 needs a CUDA device (--device cuda:N with the -Pcuda "
                + "build); on the CPU train in float32 (train.mixed_precision none)", r.err().strip());
        assertFalse(Files.exists(out));
        TestSupport.CliRun bad = TestSupport.cli("pretrain", "--preset", "tiny-test", "--out", out.toString(),
                "--mixed-precision", "fp8");
        assertEquals("mm1: error: train.mixed_precision must be one of [none, bf16, fp16], got 'fp8'",
                bad.err().strip());
        TestSupport.CliRun gpu = TestSupport.cli("pretrain", "--preset", "tiny-test", "--out", out.toString(),
                "--devices", "cuda:0,cuda:1");
        assertEquals("mm1: error: CUDA device cuda:0 is not available: the PyTorch engine sees 0 GPUs (a CUDA build "
                + "is needed: mvn -Pcuda, or MM1_CUDA=1 ./mm1, and an NVIDIA driver)", gpu.err().strip());
    }

    static Mm1Model model(Mm1Config cfg, NDManager m, DataType dtype) {
        Engines.init(11);
        Mm1Model model = Mm1Model.init(cfg, m, dtype);
        model.params().enableGradients();
        return model;
    }

    /** One step of the data-parallel test's batch; the optimizer keeps the gradients it was given. */
    static void step(Mm1Model model, DataParallel dp, DataParallelTest.Recording opt, MixedPrecision.LossScale ls) {
        TrainLoop.Settings s = new TrainLoop.Settings(1, 0, 1, 1.0, 0.1, true, 0, 0, List.of("a"), 0, 0, false);
        new TrainLoop(model, opt, new LrSchedule(1e-2, 0, 1, 0.1), s, Map.of(), DataParallelTest.QUIET)
                .dataParallel(dp).lossScale(ls).run(List.of(DataParallelTest.batch()).iterator(), 0, () -> false);
    }

    @Test
    void fp16WorkingCopyOverFp32MasterWeightsTrainsLikeFp32() {
        Mm1Config cfg = Presets.load("tiny-test");
        try (NDManager m = TestSupport.root().newSubManager()) {
            Mm1Model full = model(cfg, m, DataType.FLOAT32);
            DataParallelTest.Recording optFull = new DataParallelTest.Recording(full);
            step(full, null, optFull, null);

            Mm1Model master = model(cfg, m, DataType.FLOAT32);
            DataParallelTest.Recording optMixed = new DataParallelTest.Recording(master);
            MixedPrecision.LossScale ls = new MixedPrecision.LossScale(1024);
            try (DataParallel dp = new DataParallel(master, List.of(), r -> model(cfg, r, DataType.FLOAT16),
                    DataType.FLOAT16)) {
                assertEquals(1, dp.size());
                assertEquals(DataType.FLOAT16, dp.replica(0).params().get("model.embed_tokens.weight")
                        .getDataType());
                step(master, dp, optMixed, ls);
                // the working copy holds the updated master weights, rounded to FP16
                master.params().all().forEach((n, a) -> {
                    assertEquals(DataType.FLOAT32, a.getDataType(), n);
                    try (NDArray h = a.toType(DataType.FLOAT16, true).toType(DataType.FLOAT32, true);
                         NDArray w = dp.replica(0).params().get(n).toType(DataType.FLOAT32, true)) {
                        assertArrayEquals(h.toFloatArray(), w.toFloatArray(), 0f, n);
                    }
                });
            }
            assertEquals(1024, ls.scale()); // a good step keeps the scale
            int compared = 0;
            for (Map.Entry<String, double[]> e : optFull.grads.get(0).entrySet()) {
                double[] a = e.getValue();
                double[] b = optMixed.grads.get(0).get(e.getKey());
                double dot = 0;
                double na = 0;
                double nb = 0;
                for (int i = 0; i < a.length; i++) {
                    dot += a[i] * b[i];
                    na += a[i] * a[i];
                    nb += b[i] * b[i];
                }
                if (na > 1e-20) {
                    // FP16 keeps 11 significant bits: the unscaled FP32 gradients agree in direction to 1e-3
                    assertTrue(dot / Math.sqrt(na * nb) > 0.999, e.getKey() + ": cosine " + dot / Math.sqrt(na * nb));
                    assertEquals(Math.sqrt(na), Math.sqrt(nb), 1e-2 * Math.sqrt(na), e.getKey() + ": norm");
                    compared++;
                }
            }
            assertTrue(compared > 20, compared + " gradients compared");
            // GradScaler's start, 2^16, overflows FP16 on this batch: the step is skipped and the scale halves
            Mm1Model master2 = model(cfg, m, DataType.FLOAT32);
            DataParallelTest.Recording opt2 = new DataParallelTest.Recording(master2);
            MixedPrecision.LossScale big = new MixedPrecision.LossScale();
            try (DataParallel dp = new DataParallel(master2, List.of(), r -> model(cfg, r, DataType.FLOAT16),
                    DataType.FLOAT16)) {
                step(master2, dp, opt2, big);
            }
            assertEquals(32768, big.scale());
            assertEquals(0, opt2.stepCount());
            opt2.close();
            master2.close();
            optFull.close();
            optMixed.close();
            full.close();
            master.close();
        }
    }
}
