package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.TestSupport;
import io.mm1j.config.LlmConfig;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.nn.ParamStore;
import io.mm1j.tokenizer.BpeTrainer;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SmolLM-135M (LlamaForCausalLM) ships bos_token_id = eos_token_id = 0: the prompt then starts with the very id
 * that ends generation. Generation must run past that leading BOS, and still stop when the model emits the id.
 */
class BosEqualsEosTest {
    private static final int D = 32;

    @TempDir
    Path dir;

    /**
     * A decoder whose next token is known by hand: with every attention and FFN output projection zero the residual
     * stream is the input token's embedding, so logits = rmsnorm(embed[in]) · head. Embedding rows are unit basis
     * vectors and head rows the same vectors one step later, which wires the chain
     * BOS(0) → 'a' → 'b' → 'c' → 0 (EOS): rmsnorm(e_i)·e_i = sqrt(D) for the successor, 0 for every other id.
     */
    @Test
    void generationRunsPastTheLeadingBosAndStopsAtTheSharedId() throws Exception {
        new BpeTrainer(300, 2).add("hello world, the quick brown fox jumps over the lazy dog abc").train()
                .write(dir.resolve("tokenizer.json"));
        long[] chain;
        try (Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"))) {
            chain = new long[] {0, single(tok, "a"), single(tok, "b"), single(tok, "c"), 0};
        }
        LlmConfig c = LlmConfig.builder().vocabSize(300).hiddenSize(D).intermediateSize(64).numLayers(1).numHeads(2)
                .maxPositions(64).bosTokenId(0).eosTokenId(0).build();
        assertEquals(java.util.Set.of(0), c.stopIds());
        try (NDManager m = TestSupport.root().newSubManager()) {
            Decoder d = Decoder.init(c, m, DataType.FLOAT32);
            ParamStore p = d.params();
            p.get(Decoder.layer(0) + "self_attn.o_proj.weight").muli(0);
            p.get(Decoder.layer(0) + "mlp.down_proj.weight").muli(0);
            float[] embed = new float[300 * D];
            float[] head = new float[300 * D];
            for (int step = 0; step + 1 < chain.length; step++) {
                embed[(int) chain[step] * D + step] = 1; // e_step: the embedding of the step-th chain token
                head[(int) chain[step + 1] * D + step] = 1; // its successor's head row points the same way
            }
            p.put(Decoder.EMBED, m.create(embed, new Shape(300, D)));
            p.put(Decoder.LM_HEAD, m.create(head, new Shape(300, D)));
            HfLlama.save(d, dir);
        }

        for (String path : new String[] {"cpu", "djl"}) {
            CliTest.Result all = CliTest.run("generate", "--model", dir.toString(), "--max-tokens", "10",
                    "--decode", path);
            assertEquals(0, all.code(), all.err());
            assertEquals("abc" + System.lineSeparator(), all.out(), path + ": three tokens, then the shared id stops");
        }

        CliTest.Result capped = CliTest.run("generate", "--model", dir.toString(), "--max-tokens", "2");
        assertEquals(0, capped.code(), capped.err());
        assertEquals("ab" + System.lineSeparator(), capped.out(), "--max-tokens ends it first");

        CliTest.Result bad = CliTest.run("generate", "--model", dir.toString(), "--decode", "gpu");
        assertEquals(1, bad.code());
        assertEquals("mm1: error: --decode must be one of [cpu, djl], got gpu", bad.err().strip());
    }

    private static long single(Tokenizer tok, String text) {
        long[] ids = tok.encode(text);
        assertEquals(1, ids.length, "'" + text + "' is one token");
        return ids[0];
    }
}
