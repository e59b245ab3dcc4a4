package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunConfigTest {
    @TempDir
    Path tmp;

    private static String error(Path file, List<String> sets) {
        return assertThrows(Mm1Exception.class, () -> RunConfig.resolve(file, Map.of(), sets)).getMessage();
    }

    @Test
    void unknownKeyInAConfigFileNamesTheKeyAndTheNearestValidOne() throws Exception {
        Path f = tmp.resolve("run.json");
        Files.writeString(f, "{\"optim\": {\"warmup_step\": 5}}");
        assertEquals(f + ": unknown key 'optim.warmup_step'; did you mean 'optim.warmup_steps'?", error(f, List.of()));
    }

    @Test
    void unknownKeyInASetNamesTheKeyAndTheNearestValidOne() {
        assertEquals("--set: unknown key 'train.batchsize'; did you mean 'train.batch_size'?",
                error(null, List.of("train.batchsize=4")));
        assertEquals("--set: unknown key 'optim.lrr'; did you mean 'optim.lr'?", error(null, List.of("optim.lrr=1")));
    }

    @Test
    void unknownSourceKeyInAConfigFileIsNamedWithItsIndex() throws Exception {
        Path f = tmp.resolve("run.json");
        Files.writeString(f, "{\"data\": {\"sources\": [{\"format\": \"text\", \"path\": \"a.txt\"},"
                + " {\"format\": \"text\", \"pth\": \"b.txt\"}]}}");
        assertEquals(f + ": unknown key 'data.sources[1].pth'; did you mean 'data.sources[1].path'?",
                error(f, List.of()));
    }

    @Test
    void twoSourcesOfOneNameAreRefused() throws Exception {
        Path f = tmp.resolve("run.json");
        Files.writeString(f, "{\"data\": {\"sources\": [{\"format\": \"text\", \"path\": \"a.txt\"},"
                + " {\"format\": \"text\", \"path\": \"b.txt\"}]}}");
        assertEquals("data.sources: 'text' names both data.sources[0] (a source without a name is named by its "
                + "format) and data.sources[1] (a source without a name is named by its format); give each source its "
                + "own name (losses are logged per name)", sourceNamesError(f));
        Files.writeString(f, "{\"data\": {\"sources\": [{\"format\": \"synthetic\"}, {\"format\": \"text\", "
                + "\"path\": \"b.txt\"}]}}");
        assertEquals("data.sources: 'text' names both data.sources[0] (the synthetic world's 'text') and "
                + "data.sources[1] (a source without a name is named by its format); give each source its own name "
                + "(losses are logged per name)", sourceNamesError(f));
        Files.writeString(f, "{\"data\": {\"sources\": [{\"format\": \"text\", \"path\": \"a.txt\", \"name\": "
                + "\"a\"}, {\"format\": \"text\", \"path\": \"b.txt\", \"name\": \"b\"}]}}");
        RunConfig named = RunConfig.resolve(f, Map.of(), List.of());
        named.checkSourceNames();
        assertEquals(2, named.node("data.sources").size());
    }

    private static String sourceNamesError(Path f) {
        RunConfig rc = RunConfig.resolve(f, Map.of(), List.of()); // a resumed old run still loads
        return assertThrows(io.mm1j.Mm1Exception.class, rc::checkSourceNames).getMessage();
    }

    @Test
    void setAppliesAndLaterLayersWin() throws Exception {
        Path f = tmp.resolve("run.json");
        Files.writeString(f, "{\"optim\": {\"lr\": 1e-2}, \"train\": {\"steps\": 7}}");
        RunConfig rc = RunConfig.resolve(f, Map.of("train.steps", "9"), List.of("optim.lr=3e-4"));
        assertEquals(3e-4, rc.data("optim.lr"), 0);
        assertEquals(9, rc.integer("train.steps")); // shorthand flag over the file
        assertEquals(0.1, rc.data("optim.min_lr_ratio"), 0); // defaults stay
        assertTrue(RunConfig.resolve(null, Map.of(), List.of()).node("optim.lr").isNull(), "default lr is the law");
    }

    @Test
    void stepsMustBeAWholeNumber() {
        assertEquals("train.steps must be a whole number >= 1, got 2.5", error(null, List.of("train.steps=2.5")));
        assertEquals("train.steps must be a whole number >= 1, got 0", error(null, List.of("train.steps=0")));
        assertEquals("train.steps must be a whole number >= 1, got \"ten\"", error(null, List.of("train.steps=ten")));
        assertEquals("train.batch_size must be a whole number from 1 to 2147483647, got 99999999999",
                error(null, List.of("train.batch_size=99999999999")));
        assertEquals("train.steps is missing: train is 5, not an object", error(null, List.of("train=5")));
        assertEquals("data.seq_len must be at least 7 tokens, got 1", error(null, List.of("data.seq_len=1")));
        assertEquals("tokenizer.train.vocab_size must be a whole number >= 264 (special tokens + 256 bytes), got 5",
                error(null, List.of("tokenizer.train.vocab_size=5")));
    }

    /**
     * An integer key takes only a whole number written as one: {@code 1e2} and {@code 100.0} are refused (as the model
     * config reader refuses them), and the message quotes the value as typed, not Jackson's {@code 100.0}.
     */
    @Test
    void integerKeysTakeOnlyWholeNumbersAndQuoteTheValueAsWritten() throws Exception {
        assertEquals("train.steps must be a whole number >= 1, got 1e2", error(null, List.of("train.steps=1e2")));
        assertEquals("train.steps must be a whole number >= 1, got 100.0", error(null, List.of("train.steps=100.0")));
        assertEquals("optim.warmup_steps must be a whole number >= 0, got 2.5",
                error(null, List.of("optim.warmup_steps=2.5")));
        assertEquals("train.seed must be a whole number from -2147483648 to 2147483647, got 1.5",
                error(null, List.of("train.seed=1.5")));
        assertEquals("data.synthetic_images must be a whole number >= 1, got 2E3",
                error(null, List.of("data.synthetic_images=2E3")));
        assertEquals("train.eval_interval must be a whole number >= 0, got 5e1",
                error(null, List.of("train.eval_interval=5e1")));
        Path f = tmp.resolve("run.json");
        Files.writeString(f, "{\"train\": {\"steps\": 1.0e2}}");
        assertEquals("train.steps must be a whole number >= 1, got 1.0e2", error(f, List.of()));
        // a later layer replaces the value, and with it what was written
        assertEquals(100, RunConfig.resolve(f, Map.of(), List.of("train.steps=100")).integer("train.steps"));
        assertEquals("train.steps must be a whole number >= 1, got 0", error(f, List.of("train.steps=0")));
    }

    @Test
    void setWithoutEqualsIsRefused() {
        assertEquals("--set optim.lr: expected key=value", error(null, List.of("optim.lr")));
    }

    /** A partial model.moe on a dense preset gets MM1's routing for the rest, never zero loss weights. */
    @Test
    void aPartialMoeGetsMm1sRouterLossWeights() {
        RunConfig rc = RunConfig.resolve(null, Map.of(), List.of("model.preset=tiny-test",
                "model.moe={\"numExperts\":4,\"every\":1}"));
        io.mm1j.config.MoeConfig moe = RunModels.build(rc, 288, "t").llm().moe();
        assertEquals(io.mm1j.config.MoeConfig.mm1(4, 1), moe);
        assertEquals(0.01, moe.balanceCoef());
        assertEquals(0.001, moe.zLossCoef());
        assertEquals(2, moe.topK());
        RunConfig none = RunConfig.resolve(null, Map.of(), List.of("model.preset=tiny-test",
                "model.moe={\"topK\":1}"));
        assertEquals("model.moe.numExperts is required (the preset 'tiny-test' has no MoE to take it from)",
                assertThrows(Mm1Exception.class, () -> RunModels.build(none, 288, "t")).getMessage());
    }

    /**
     * Bad values in {@code model.vision}, {@code model.connector} and {@code model.moe} (bound to mm1j's config
     * records) are one line naming the key, the value as written and what the key takes, without Jackson's Java type
     * names; the same for {@code mm1 clip}'s encoder.
     */
    @Test
    void badModelOverridesNameTheKeyTheValueAndTheAcceptedValues() {
        assertEquals("model: connector.type must be one of [avgpool, attnpool, c-abstractor, mlp], got bogus",
                modelError("model.connector={\"type\":\"bogus\"}"));
        assertEquals("model: connector.squeezeExcitation must be true or false, got \"yes\"",
                modelError("model.connector={\"squeezeExcitation\":\"yes\"}"));
        assertEquals("model: connector.imageTokens must be an integer, got 1e2",
                modelError("model.connector={\"imageTokens\":1e2}"));
        assertEquals("model: vision.activation must be gelu or quick_gelu, got relu",
                modelError("model.vision={\"activation\":\"relu\"}"));
        assertEquals("model: llm.moe.topK must be an integer, got \"two\"",
                modelError("model.moe={\"numExperts\":4,\"topK\":\"two\"}"));
        assertEquals("model: unknown key llm.moe.router (known here: balanceCoef, capacityFactor, every, "
                + "expertIntermediate, numExperts, topK, zLossCoef)",
                modelError("model.moe={\"numExperts\":4,\"router\":\"x\"}"));
        RunConfig clip = RunConfig.resolveAgainst(RunConfig.defaults(EncoderPretrainer.DEFAULTS), null,
                Map.of("model.preset", "\"tiny-test\""), List.of("model.vision={\"width\":3.2e1}"));
        assertEquals("model: vision.width must be an integer, got 3.2e1",
                assertThrows(Mm1Exception.class, () -> EncoderRunConfig.vision(clip)).getMessage());
    }

    private static String modelError(String set) {
        RunConfig rc = RunConfig.resolve(null, Map.of(), List.of("model.preset=tiny-test", set));
        String m = assertThrows(Mm1Exception.class, () -> RunModels.build(rc, 288, "t")).getMessage();
        assertTrue(!m.contains("`") && !m.contains("java.") && !m.contains("io.mm1j"), m);
        return m;
    }

    /** A string where a boolean belongs ("yes") is refused naming the key, not read as false by asBoolean(). */
    @Test
    void aStringForABooleanKeyIsATypeErrorNamingTheKey() throws Exception {
        Path f = tmp.resolve("run.json");
        Files.writeString(f, "{\"model\": {\"high_res\": {\"enabled\": true, \"overview\": \"yes\"}}}");
        assertEquals("model.high_res.overview must be true or false, got \"yes\"", error(f, List.of()));
        assertEquals("train.activation_checkpointing must be true or false, got 0",
                error(null, List.of("train.activation_checkpointing=0")));
        assertEquals("data.mask_between_documents must be true or false, got \"no\"",
                error(null, List.of("data.mask_between_documents=no")));
        assertEquals("model.high_res.rows must be a whole number >= 1, got 1.5",
                error(null, List.of("model.high_res.rows=1.5")));
        RunConfig ok = RunConfig.resolve(f, Map.of(), List.of("model.high_res.overview=false"));
        assertEquals(false, ok.node("model.high_res.overview").booleanValue());
    }

    /** {@code --crop} alone (high_res.enabled not true) would be ignored: refused, naming both keys and flags. */
    @Test
    void aCropWithoutTheHighResModeIsRefused() {
        String expected = "model.high_res.crop (--crop) is the sub-image size of the high-resolution mode: it needs "
                + "model.high_res.enabled=true (--high-res), got enabled=";
        assertEquals(expected + "null", error(null, List.of("model.high_res.crop=48")));
        assertEquals(expected + "false", error(null, List.of("model.high_res.crop=48",
                "model.high_res.enabled=false")));
        RunConfig on = RunConfig.resolve(null, Map.of(), List.of("model.high_res.crop=48",
                "model.high_res.enabled=true"));
        assertEquals(48, on.integer("model.high_res.crop"));
    }
}
