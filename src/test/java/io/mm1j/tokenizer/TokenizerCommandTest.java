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

    @Test
    void trainRefusesToReplaceAnExistingFileUnlessOverwrite() throws Exception {
        Path a = Files.writeString(dir.resolve("a.txt"), "hello world, hello shapes. ".repeat(50));
        Path out = Files.writeString(dir.resolve("tokenizer.json"), "my tokenizer");
        CommandLine cli = new CommandLine(new TokenizerCommand());
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err));
        cli.setOut(new PrintWriter(new StringWriter()));
        assertEquals(1, cli.execute("train", "--input", a.toString(), "--vocab-size", "280", "--out", out.toString()));
        assertEquals("my tokenizer", Files.readString(out));
        assertEquals(0, cli.execute("train", "--input", a.toString(), "--vocab-size", "280", "--out", out.toString(),
                "--overwrite"));
        try (Tokenizer t = Tokenizer.load(out)) {
            assertEquals(280, t.vocabSize());
        }
    }

    @Test
    void existingFileAndFolderAsOutAreOneLineErrorsNamingThem() throws Exception {
        Path a = Files.writeString(dir.resolve("a.txt"), "hello world. ".repeat(20));
        Path out = Files.writeString(dir.resolve("tokenizer.json"), "x");
        assertEquals("mm1: error: --out " + out + ": file exists (pass --overwrite to replace it)\n",
                stderrOf("tokenizer", "train", "--input", a.toString(), "--out", out.toString()));
        assertEquals("mm1: error: --out " + dir + ": is a folder, not a file (name the tokenizer.json to write)\n",
                stderrOf("tokenizer", "train", "--input", a.toString(), "--out", dir.toString(), "--overwrite"));
    }

    private static synchronized String stderrOf(String... args) {
        java.io.PrintStream old = System.err;
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        try {
            System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
            assertEquals(1, io.mm1j.cli.Main.run(args));
        } finally {
            System.setErr(old);
        }
        return err.toString(java.nio.charset.StandardCharsets.UTF_8);
    }
}
