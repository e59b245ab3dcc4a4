package io.mm1j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.cli.TokenizerCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TokenizerCommandTest {
    @TempDir
    Path dir;

    @Test
    void trainWritesALoadableTokenizer() throws Exception {
        Path a = Files.writeString(dir.resolve("a.txt"), "hello world, hello shapes. ".repeat(50));
        Path b = Files.writeString(dir.resolve("b.jsonl"), "{\"text\": \"a red circle\"}\n{\"text\": \"a red square\"}\n");
        Path out = dir.resolve("tok/tokenizer.json");
        CommandLine cli = new CommandLine(new TokenizerCommand());
        StringWriter so = new StringWriter();
        cli.setOut(new PrintWriter(so));
        assertEquals(0, cli.execute("train", "--input", a.toString(), b.toString(), "--vocab-size", "280", "--out",
                out.toString()));
        assertTrue(so.toString().startsWith("wrote " + out + ": vocab 280"), so.toString());
        try (Tokenizer t = Tokenizer.load(out)) {
            assertEquals("a red circle", t.decode(t.encode("a red circle")));
            assertEquals(SpecialTokens.EOS_ID, t.specialId(SpecialTokens.EOS));
        }
    }
}
