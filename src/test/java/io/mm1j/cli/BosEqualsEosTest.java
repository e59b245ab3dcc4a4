package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.TestSupport;
import io.mm1j.config.LlmConfig;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.tokenizer.BpeTrainer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BosEqualsEosTest {
    @TempDir
    Path dir;

    /** SmolLM-135M (LlamaForCausalLM) ships bos_token_id = eos_token_id = 0. */
    @Test
    void generateWorksWhenBosEqualsEos() throws Exception {
        new BpeTrainer(300, 2).add("hello world, the quick brown fox jumps over the lazy dog").train()
                .write(dir.resolve("tokenizer.json"));
        LlmConfig c = new LlmConfig(300, 32, 64, 1, 2, 2, 16, 64, 1e-5, 10000.0, true, 0, 0, null);
        try (NDManager m = TestSupport.root().newSubManager()) {
            Decoder d = Decoder.init(c, m, DataType.FLOAT32);
            HfLlama.save(d, dir);
        }
        CliTest.Result r = CliTest.run("generate", "--model", dir.toString(), "--max-tokens", "3");
        assertEquals(0, r.code(), r.err());
    }
}
