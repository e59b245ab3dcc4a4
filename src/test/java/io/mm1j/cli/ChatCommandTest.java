package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.TestSupport;
import io.mm1j.llm.DecodePath;
import io.mm1j.mllm.ChatMessage;
import io.mm1j.mllm.ChatTemplate;
import io.mm1j.mllm.GenerationConfig;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.PromptBuilder;
import io.mm1j.mllm.TokenListener;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.RgbImage;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 chat}: one-shot and piped interactive sessions give what the chat API gives for the same turns. */
class ChatCommandTest {
    @TempDir
    static Path tmp;
    static Path dir;
    static Path red;

    @BeforeAll
    static void init() throws Exception {
        dir = tmp.resolve("tiny");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString(), "--seed", "2")
                .code());
        BufferedImage img = new BufferedImage(24, 20, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.RED);
        g.fillRect(0, 0, 12, 20);
        g.dispose();
        red = tmp.resolve("red.png");
        ImageIO.write(img, "png", red.toFile());
    }

    /** The answer the API gives to {@code messages} (greedy, mm1j template stops, 8 tokens). */
    static String answer(List<ChatMessage> messages) {
        try (NDManager m = TestSupport.root().newSubManager();
             Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"));
             Mm1Model model = Mm1Model.load(dir, m, DataType.FLOAT32)) {
            ChatTemplate t = ChatTemplate.forModel(dir, tok);
            return new Generator(model, tok, DecodePath.CPU).generate(
                    new PromptBuilder(model, tok).fromChat(t, messages, true),
                    GenerationConfig.builder().maxTokens(8).stopsOf(t).build(), TokenListener.NONE).text();
        }
    }

    static TestSupport.CliRun withStdin(String input, String... args) {
        InputStream old = System.in;
        System.setIn(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
        try {
            return TestSupport.cli(args);
        } finally {
            System.setIn(old);
        }
    }

    @Test
    void oneShotPrintsTheStreamedAnswer() {
        RgbImage pic = new ImageIoLoader(1L << 20).load(red);
        TestSupport.CliRun r = TestSupport.cli("chat", "--model", dir.toString(), "--max-tokens", "8",
                "--image", red.toString(), "--system", "Be brief.", "What colour?");
        assertEquals(0, r.code(), r.err());
        String expected = answer(List.of(ChatMessage.text("system", "Be brief."),
                ChatMessage.withImages("user", List.of(pic), "What colour?")));
        assertEquals(expected + System.lineSeparator(), r.out());
    }

    @Test
    void pipedSessionKeepsHistoryAttachesImagesAndResets() {
        String input = "hello\n/image " + red + "\nwhat is it?\n/bogus\n/reset\nhello\n/quit\nnever read\n";
        TestSupport.CliRun r = withStdin(input, "chat", "--model", dir.toString(), "--max-tokens", "8");
        assertEquals(0, r.code(), r.err());
        RgbImage pic = new ImageIoLoader(1L << 20).load(red);
        List<ChatMessage> turns = new ArrayList<>();
        turns.add(ChatMessage.text("user", "hello"));
        String a1 = answer(turns);
        turns.add(ChatMessage.text("assistant", a1));
        turns.add(ChatMessage.withImages("user", List.of(pic), "what is it?"));
        String a2 = answer(turns);
        assertTrue(!a1.isEmpty() && !a2.isEmpty() && !a1.equals(a2), "a1='" + a1 + "' a2='" + a2 + "'");
        String nl = System.lineSeparator();
        assertEquals(a1 + nl + a2 + nl + a1 + nl, r.out(), "answers to: hello / (image) what is it? / reset, hello");
        assertTrue(r.err().contains("attached " + red), r.err());
        assertTrue(r.err().contains("unknown command /bogus"), r.err());
        assertTrue(r.err().contains("conversation reset"), r.err());
    }

    @Test
    void aBadImageInASessionIsReportedAndTheSessionGoesOn() {
        Path missing = tmp.resolve("missing.png");
        TestSupport.CliRun r = withStdin("/image " + missing + "\nhello\n", "chat", "--model", dir.toString(),
                "--max-tokens", "8");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("mm1: error: ") && r.err().contains(missing.toString()), r.err());
        assertEquals(answer(List.of(ChatMessage.text("user", "hello"))) + System.lineSeparator(), r.out());
    }
}
