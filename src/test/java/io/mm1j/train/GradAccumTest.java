package io.mm1j.train;

import static io.mm1j.train.PretrainRuns.line;
import static io.mm1j.train.PretrainRuns.pretrain;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * k micro-batches of b rows make the same optimizer step as one batch of k·b rows. The rows are the same (the
 * packer fills them in the same order) and the loss is weighted by 1/(trained tokens of the whole step) in both, so
 * the two differ only by float32 rounding: matrix products over 2 instead of 4 rows and the per-token losses summed
 * in two parts instead of one. Relative 1e-5 bounds that (float32 ε ≈ 1.2e-7 times the few hundred terms summed).
 */
class GradAccumTest {
    static final double REL = 1e-5;

    @TempDir
    Path tmp;

    private static void assertClose(JsonNode a, JsonNode b, String key) {
        double x = a.get(key).asDouble();
        double y = b.get(key).asDouble();
        assertEquals(x, y, REL * Math.abs(x), key + ": " + x + " vs " + y);
    }

    private void compare(String... data) throws Exception {
        Path accum = tmp.resolve("accum");
        Path whole = tmp.resolve("whole");
        String[] a = PretrainRunTest.concat(data, "--steps", "2", "--set", "train.grad_accum=2",
                "--set", "train.batch_size=2");
        String[] w = PretrainRunTest.concat(data, "--steps", "2", "--set", "train.grad_accum=1",
                "--set", "train.batch_size=4");
        PretrainRuns.Cli ra = pretrain(accum, a);
        PretrainRuns.Cli rw = pretrain(whole, w);
        assertEquals(0, ra.code(), ra.err());
        assertEquals(0, rw.code(), rw.err());
        JsonNode a1 = line(accum, 1, "loss");
        JsonNode w1 = line(whole, 1, "loss");
        assertEquals(w1.get("trainedTokens").asDouble(), a1.get("trainedTokens").asDouble(), 0, "same rows");
        assertClose(w1, a1, "loss");
        assertClose(w1, a1, "gradNorm"); // the global gradient norm before clipping
        JsonNode a2 = line(accum, 2, "loss");
        JsonNode w2 = line(whole, 2, "loss");
        assertEquals(w2.get("trainedTokens").asDouble(), a2.get("trainedTokens").asDouble(), 0, "same rows");
        assertClose(w2, a2, "loss"); // after one update with (nearly) the same gradient
    }

    @Test
    void twoMicroBatchesOfTwoEqualOneBatchOfFourOnCaptions() throws Exception {
        compare("--set", PretrainRuns.captionsOnly(PretrainRuns.synthWorld(tmp.resolve("world"))));
    }

    @Test
    void twoMicroBatchesOfTwoEqualOneBatchOfFourOnTheDefaultMix() throws Exception {
        compare();
    }
}
