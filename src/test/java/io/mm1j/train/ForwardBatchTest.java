package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import io.mm1j.TestSupport;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.data.Batch;
import io.mm1j.llm.Decoder;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tokenizer.SpecialTokens;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link Mm1Model#forward(Batch, boolean)} on hand-built packed rows: document masking and padding. */
class ForwardBatchTest {
    static final int T = 16;
    /** Row layout: sample 0 at positions 0…6, sample 1 at 7…13, padding at 14, 15. */
    static final int[] SEGMENTS = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, -1, -1};

    static Batch row(long[] tokens) {
        long[] targets = new long[T];
        float[] loss = new float[T];
        byte[] sources = new byte[T];
        for (int i = 0; i < T; i++) {
            targets[i] = i + 1 < T ? tokens[i + 1] : SpecialTokens.PAD_ID;
            loss[i] = SEGMENTS[i] >= 0 ? 1 : 0;
            sources[i] = (byte) (SEGMENTS[i] >= 0 ? 0 : -1);
        }
        return new Batch(1, T, tokens, targets, loss, List.of(), 4, null, SEGMENTS.clone(), sources);
    }

    static long[] tokens(long firstSampleBase, long padId) {
        long[] t = new long[T];
        for (int i = 0; i < T; i++) {
            t[i] = SEGMENTS[i] == 0 ? firstSampleBase + i : SEGMENTS[i] == 1 ? 40 + i : padId;
        }
        t[0] = SpecialTokens.BOS_ID;
        t[7] = SpecialTokens.BOS_ID;
        return t;
    }

    /** Logits (T·V floats) of the row. */
    static float[] logits(Mm1Model m, Batch b, boolean mask) {
        try (NDScope scope = new NDScope()) {
            Decoder.Output out = m.forward(b, mask);
            scope.suppressNotUsedWarning();
            return out.logits().toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    static float[] positions(float[] logits, int vocab, int from, int to) {
        return Arrays.copyOfRange(logits, from * vocab, to * vocab);
    }

    @Test
    void withDocumentMaskTheSecondSampleIgnoresTheFirstAndWithoutItDoesNot() {
        Mm1Config cfg = Presets.load("tiny-test");
        int v = cfg.llm().vocabSize();
        try (NDManager mgr = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.init(cfg, mgr, DataType.FLOAT32)) {
            Batch a = row(tokens(100, SpecialTokens.PAD_ID));
            Batch b = row(tokens(200, SpecialTokens.PAD_ID)); // only sample 0's tokens differ
            float[] maskedA = positions(logits(model, a, true), v, 7, 14);
            float[] maskedB = positions(logits(model, b, true), v, 7, 14);
            assertArrayEquals(maskedA, maskedB, 0f, "masked: sample 1's logits must not depend on sample 0");
            float[] openA = positions(logits(model, a, false), v, 7, 14);
            float[] openB = positions(logits(model, b, false), v, 7, 14);
            assertFalse(Arrays.equals(openA, openB), "unmasked: sample 1 attends to sample 0");
            // sample 0 (positions 0…6) sees only itself either way: the mask changes nothing there
            assertArrayEquals(positions(logits(model, a, false), v, 0, 7), positions(logits(model, a, true), v, 0, 7),
                    1e-5f);
        }
    }

    @Test
    void moeRoutesOnlyRealTokensAndPaddingChangesNothing() {
        RunConfig rc = RunConfig.resolve(null, Map.of(), List.of("model.preset=tiny-test", "data.seq_len=16",
                "model.moe={\"numExperts\":4,\"topK\":2,\"every\":1,\"expertIntermediate\":0,"
                        + "\"balanceCoef\":0.01,\"zLossCoef\":0.001,\"capacityFactor\":0}"));
        Mm1Config cfg = RunModels.build(rc, 288, "moe-test");
        assertNotNull(cfg.llm().moe());
        int v = cfg.llm().vocabSize();
        try (NDManager mgr = TestSupport.root().newSubManager();
             Mm1Model model = Mm1Model.init(cfg, mgr, DataType.FLOAT32)) {
            Batch padA = row(tokens(100, SpecialTokens.PAD_ID));
            Batch padB = row(tokens(100, 77)); // the same row with other ids in the two padded positions
            List<int[]> loadA;
            List<int[]> loadB;
            float[] logitsA;
            float[] logitsB;
            float auxA;
            float auxB;
            try (NDScope scope = new NDScope()) {
                Decoder.Output oa = model.forward(padA, true);
                Decoder.Output ob = model.forward(padB, true);
                loadA = oa.expertLoad();
                loadB = ob.expertLoad();
                logitsA = positions(oa.logits().toFloatArray(), v, 0, 14);
                logitsB = positions(ob.logits().toFloatArray(), v, 0, 14);
                auxA = oa.auxLoss().toType(DataType.FLOAT32, false).getFloat();
                auxB = ob.auxLoss().toType(DataType.FLOAT32, false).getFloat();
                scope.suppressNotUsedWarning();
            }
            assertEquals(cfg.llm().numLayers(), loadA.size(), "every layer is MoE (every=1)");
            for (int[] layer : loadA) {
                assertEquals(14 * 2, Arrays.stream(layer).sum(), "14 real tokens × top-2, padding not routed: "
                        + Arrays.toString(layer));
            }
            for (int i = 0; i < loadA.size(); i++) {
                assertArrayEquals(loadA.get(i), loadB.get(i), "padding ids must not change routing");
            }
            assertArrayEquals(logitsA, logitsB, 0f, "real positions do not see padding");
            assertEquals(auxA, auxB, 0f, "balance and z losses are over real tokens only");
        }
    }
}
