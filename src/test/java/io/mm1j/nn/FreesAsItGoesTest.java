package io.mm1j.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.mm1j.ManagedNdTest;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.VisionConfig;
import io.mm1j.llm.Decoder;
import io.mm1j.vision.VisionTransformer;
import org.junit.jupiter.api.Test;

/**
 * Inference frees as it goes: the peak of live NDArray bytes (weights excluded) during a forward pass does not grow
 * with depth, for the ViT and the decoder; under gradient recording the intermediates are kept (backward needs them).
 */
class FreesAsItGoesTest extends ManagedNdTest {
    private static VisionConfig vit(int layers) {
        return new VisionConfig(32, 4, 32, layers, 2, 64, "quick_gelu", 1e-5, -1); // 8×8 grid, 65 tokens
    }

    private static LlmConfig llm(int layers) {
        return LlmConfig.llama(64, 32, 64, layers, 4, 2, 64, false);
    }

    private long vitPeak(int layers, boolean recording) {
        try (ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            VisionTransformer v = VisionTransformer.init(vit(layers), p);
            NDArray pixels = m.randomNormal(new Shape(2, 3, 32, 32));
            return peak(recording, p, () -> v.forward(pixels).patchTokens());
        }
    }

    private long decoderPeak(int layers, boolean recording) {
        try (ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            Decoder d = Decoder.init(llm(layers), p);
            NDArray ids = m.randomInteger(3, 64, new Shape(2, 24), DataType.INT64);
            return peak(recording, p, () -> d.forward(ids).logits());
        }
    }

    private long peak(boolean recording, ParamStore p, java.util.function.Supplier<NDArray> forward) {
        if (recording) {
            p.enableGradients();
        }
        long base = MemoryProbe.liveBytes(m);
        try (NDScope scope = new NDScope(); MemoryProbe probe = new MemoryProbe(m)) {
            NDArray out;
            if (recording) {
                try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    out = forward.get();
                    probe.sample();
                }
            } else {
                out = forward.get();
                assertTrue(probe.samples() > 0, "the forward ran through freeing blocks");
            }
            probe.sample();
            scope.suppressNotUsedWarning();
            assertTrue(out.getShape().size() > 0);
            return probe.peakBytes() - base;
        }
    }

    @Test
    void vitPeakActivationMemoryDoesNotGrowWithDepth() {
        long two = vitPeak(2, false);
        long eight = vitPeak(8, false);
        assertTrue(two > 0 && eight <= 1.5 * two, "ViT peak activation bytes: 2 layers " + two + ", 8 layers " + eight);
    }

    @Test
    void decoderPeakActivationMemoryDoesNotGrowWithDepth() {
        long two = decoderPeak(2, false);
        long eight = decoderPeak(8, false);
        assertTrue(two > 0 && eight <= 1.5 * two, "decoder peak activation bytes: 2 layers " + two + ", 8 layers "
                + eight);
    }

    @Test
    void underGradientRecordingTheIntermediatesAreKeptForBackward() {
        long two = decoderPeak(2, true);
        long eight = decoderPeak(8, true);
        assertTrue(eight > 2.5 * two, "training keeps every layer: 2 layers " + two + ", 8 layers " + eight);
    }

    @Test
    void noGradSwitchesRecordingOffOnAFreshThreadAndRestoresIt() throws Exception {
        boolean[] seen = new boolean[3];
        Thread t = new Thread(() -> {
            seen[0] = BlockScope.recording(); // libtorch records by default on a thread that did not load it
            seen[1] = BlockScope.noGrad(BlockScope::recording);
            seen[2] = BlockScope.recording();
        });
        t.start();
        t.join();
        assertTrue(seen[0], "a fresh thread records (the reason inference entry points need noGrad)");
        assertTrue(!seen[1], "inside noGrad nothing is recorded");
        assertTrue(seen[2], "the thread's mode is restored");
    }
}
