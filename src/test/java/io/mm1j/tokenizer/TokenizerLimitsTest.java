package io.mm1j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sizes taken from input are checked before anything of that size is allocated. */
class TokenizerLimitsTest {
    @TempDir
    Path dir;

    @Test
    void aHugeVocabSizeIsRefusedBeforeTraining() {
        assertEquals("--vocab-size 2000000000 is above the limit of 4194304 tokens",
                assertThrows(Mm1Exception.class, () -> new BpeTrainer(2_000_000_000, 2)).getMessage());
    }

    @Test
    void aOneGigabyteTokenizerJsonIsRefusedBeforeParsing() throws Exception {
        Path f = dir.resolve("tokenizer.json");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(1L << 30); // sparse
        }
        assertEquals(f + ": tokenizer file is 1073741824 bytes, above the limit of 134217728 bytes",
                assertThrows(Mm1Exception.class, () -> Tokenizer.load(f)).getMessage());
    }

    @Test
    void tokenIdsMustBeSmallNonNegativeIntegers() throws Exception {
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(f, "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 2147483647}}}");
        assertEquals(f + ": model.vocab['b'] must be a token id, an integer in [0, 4194304), got 2147483647",
                assertThrows(Mm1Exception.class, () -> Tokenizer.load(f)).getMessage());
        Files.writeString(f, "{\"model\": {\"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 1.5, \"content\": "
                + "\"<s>\"}]}");
        assertEquals(f + ": added_tokens[0].id must be a token id, an integer in [0, 4194304), got 1.5",
                assertThrows(Mm1Exception.class, () -> Tokenizer.load(f)).getMessage());
    }

    @Test
    void trainingInputMustBeARegularFileOfBoundedSize() throws Exception {
        assertEquals("/dev/zero: input file is a device, FIFO or socket, not a regular file",
                assertThrows(Mm1Exception.class, () -> new BpeTrainer(300, 2).addFiles(List.of(Path.of("/dev/zero"))))
                        .getMessage());
        Path big = dir.resolve("big.txt");
        try (RandomAccessFile r = new RandomAccessFile(big.toFile(), "rw")) {
            r.setLength(3L << 30); // sparse
        }
        assertEquals(big + ": input file is 3221225472 bytes, above the limit of 536870912 bytes",
                assertThrows(Mm1Exception.class, () -> new BpeTrainer(300, 2).addFiles(List.of(big))).getMessage());
    }

    @Test
    void badUtf8InTrainingTextNamesFileAndLine() throws Exception {
        Path f = Files.write(dir.resolve("c.txt"), new byte[] {'h', 'i', '\n', 'a', (byte) 0xFF, '\n'});
        assertEquals(f + ":2: not valid UTF-8 text (byte offset 4)",
                assertThrows(Mm1Exception.class, () -> new BpeTrainer(300, 2).addFiles(List.of(f))).getMessage());
        byte[] jsonl = "{\"text\": \"a\"}\n{\"text\": \"\u00e9\"}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        jsonl[25] = '"'; // é is C3 A9 at offsets 24..25: the lead byte is left without its continuation
        Path j = Files.write(dir.resolve("c.jsonl"), jsonl);
        assertEquals(j + ":2: not valid UTF-8 text (byte offset 24)",
                assertThrows(Mm1Exception.class, () -> new BpeTrainer(300, 2).addFiles(List.of(j))).getMessage());
    }
}
