package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import io.mm1j.TestSupport;
import io.mm1j.data.ImageRef;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleEncoder;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SFT layout through the chat template: which tokens carry the loss, pinned token by token. */
class ChatTemplateEncoderTest {
    @TempDir
    static Path tmp;
    static Tokenizer tok;
    /** Image pieces are marked by this id in the flattened view below (never a real token id here). */
    static final long IMG = -1;

    @BeforeAll
    static void init() {
        Path dir = tmp.resolve("tiny");
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString()).code());
        tok = Tokenizer.load(dir.resolve("tokenizer.json"));
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    /** Tokens (images as IMG) and their loss flags, flattened from the pieces. */
    private record Flat(List<Long> ids, List<Integer> loss) {}

    private static Flat flat(List<SampleEncoder.Piece> pieces) {
        List<Long> ids = new ArrayList<>();
        List<Integer> loss = new ArrayList<>();
        for (SampleEncoder.Piece p : pieces) {
            if (p.isImage()) {
                ids.add(IMG);
                loss.add(p.loss() ? 1 : 0);
                continue;
            }
            for (long id : p.tokens()) {
                ids.add(id);
                loss.add(p.loss() ? 1 : 0);
            }
        }
        return new Flat(ids, loss);
    }

    private static final Function<ImageRef, SampleEncoder.Piece> IMAGE = ref -> new SampleEncoder.Piece(null,
            new float[] {ref.name().length()}, false);

    private static void add(List<Long> ids, List<Integer> loss, String text, int l) {
        for (long id : tok.encode(text)) {
            ids.add(id);
            loss.add(l);
        }
    }

    private static void add(List<Long> ids, List<Integer> loss, long id, int l) {
        ids.add(id);
        loss.add(l);
    }

    /**
     * Two images (one mid-sentence, one in the second user turn), a system turn and two assistant replies: the loss
     * is on each reply and its {@code <|end|>}, nowhere else (not BOS, headers, user/system text or image slots).
     */
    @Test
    void lossOnlyOnAssistantRepliesAndTheirEndMarkers() {
        Sample.Conversation c = new Sample.Conversation("c1", List.of(ImageRef.of("a.png", new byte[0]),
                ImageRef.of("bb.png", new byte[0])), List.of(
                new Sample.Turn("system", "be brief"),
                new Sample.Turn("user", "what is <image> here?"),
                new Sample.Turn("assistant", "a red circle"),
                new Sample.Turn("user", "<image>\nand now?"),
                new Sample.Turn("assistant", "two squares")));
        Flat got = flat(new ChatTemplateEncoder(ChatTemplate.mm1j(tok), tok).encode(c, IMAGE));

        List<Long> ids = new ArrayList<>();
        List<Integer> loss = new ArrayList<>();
        add(ids, loss, SpecialTokens.BOS_ID, 0);
        add(ids, loss, SpecialTokens.SYSTEM_ID, 0);
        add(ids, loss, "be brief", 0);
        add(ids, loss, SpecialTokens.END_OF_TURN_ID, 0);
        add(ids, loss, SpecialTokens.USER_ID, 0);
        add(ids, loss, "what is ", 0);
        add(ids, loss, IMG, 0);
        add(ids, loss, " here?", 0);
        add(ids, loss, SpecialTokens.END_OF_TURN_ID, 0);
        add(ids, loss, SpecialTokens.ASSISTANT_ID, 0);
        add(ids, loss, "a red circle", 1);
        add(ids, loss, SpecialTokens.END_OF_TURN_ID, 1);
        add(ids, loss, SpecialTokens.USER_ID, 0);
        add(ids, loss, IMG, 0);
        add(ids, loss, "\nand now?", 0);
        add(ids, loss, SpecialTokens.END_OF_TURN_ID, 0);
        add(ids, loss, SpecialTokens.ASSISTANT_ID, 0);
        add(ids, loss, "two squares", 1);
        add(ids, loss, SpecialTokens.END_OF_TURN_ID, 1);
        assertEquals(ids, got.ids());
        assertEquals(loss, got.loss());
        // the pinned mask, token by token, for the two replies' lengths
        int reply1 = tok.encode("a red circle").length;
        int reply2 = tok.encode("two squares").length;
        int[] mask = got.loss().stream().mapToInt(Integer::intValue).toArray();
        int[] expected = new int[mask.length];
        int at = 1 + 1 + tok.encode("be brief").length + 1 + 1 + tok.encode("what is ").length + 1
                + tok.encode(" here?").length + 1 + 1;
        java.util.Arrays.fill(expected, at, at + reply1 + 1, 1);
        int at2 = at + reply1 + 1 + 1 + 1 + tok.encode("\nand now?").length + 1 + 1;
        java.util.Arrays.fill(expected, at2, at2 + reply2 + 1, 1);
        assertArrayEquals(expected, mask);
        assertEquals(mask.length, at2 + reply2 + 1);
    }

    /** A template that rewrites earlier turns when later ones exist cannot be split into turns: refused by name. */
    @Test
    void templateThatIsNotPrefixStableIsRefused() {
        String t = "{% for m in messages %}{{ m['role'] }}{% if loop.last %}!{% endif %}:{{ m['content'] }}|"
                + "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
        ChatTemplate bad = ChatTemplate.of(t, "odd.jinja", "", "", tok);
        Sample.Conversation c = new Sample.Conversation("c2", List.of(), List.of(new Sample.Turn("user", "hi"),
                new Sample.Turn("assistant", "yo")));
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> new ChatTemplateEncoder(bad, tok).encode(c, IMAGE));
        assertEquals("odd.jinja: the chat template does not render a conversation prefix by prefix (turn 1 of 'c2'), "
                + "so the assistant's tokens cannot be located", e.getMessage());
    }
}
