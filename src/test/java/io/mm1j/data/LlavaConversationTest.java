package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LLaVA conversations for SFT: several images, tags anywhere, and the bad cases named by file, line and field. */
class LlavaConversationTest {
    @TempDir
    Path tmp;
    Path images;

    @BeforeEach
    void pictures() throws Exception {
        images = Files.createDirectories(tmp.resolve("img"));
        for (String n : List.of("a.png", "b.png")) {
            Files.write(images.resolve(n), new byte[] {1});
        }
    }

    private Path json(String conversations) throws Exception {
        return Files.writeString(tmp.resolve("llava.json"), "[\n" + conversations + "\n]");
    }

    private Mm1Exception refused(String conversation) throws Exception {
        Path f = json(conversation);
        return assertThrows(Mm1Exception.class, () -> ReadersTest.all(new LlavaReader(f, images,
                SkipReport.strict())));
    }

    @Test
    void severalImagesWithTagsAnywhere() throws Exception {
        Path f = json("""
                {"id": "x", "image": ["a.png", "b.png"], "conversations": [
                  {"from": "system", "value": "be brief"},
                  {"from": "human", "value": "compare <image> with"}, {"from": "gpt", "value": "ok"},
                  {"from": "human", "value": "this: <image>"}, {"from": "gpt", "value": "same"}]}""");
        Sample.Conversation c = (Sample.Conversation) ReadersTest.all(new LlavaReader(f, images,
                SkipReport.strict())).get(0);
        assertEquals(List.of("a.png", "b.png"), c.images().stream().map(ImageRef::name).toList());
        assertEquals(List.of(new Sample.Turn("system", "be brief"), new Sample.Turn("user", "compare <image> with"),
                new Sample.Turn("assistant", "ok"), new Sample.Turn("user", "this: <image>"),
                new Sample.Turn("assistant", "same")), c.turns());
    }

    @Test
    void moreTagsThanImages() throws Exception {
        Mm1Exception e = refused("""
                {"id": "x", "image": "a.png", "conversations": [
                  {"from": "human", "value": "<image> and <image>"}, {"from": "gpt", "value": "ok"}]}""");
        assertEquals(tmp.resolve("llava.json") + ":2: bad record: image: 1 image(s) but 2 <image> tag(s) in "
                + "conversations", e.getMessage());
    }

    @Test
    void fewerTagsThanImages() throws Exception {
        Mm1Exception e = refused("""
                {"id": "x", "image": ["a.png", "b.png"], "conversations": [
                  {"from": "human", "value": "<image> what?"}, {"from": "gpt", "value": "ok"}]}""");
        assertEquals(tmp.resolve("llava.json") + ":2: bad record: image: 2 image(s) but 1 <image> tag(s) in "
                + "conversations", e.getMessage());
    }

    @Test
    void rolesOutOfOrder() throws Exception {
        Mm1Exception e = refused("""
                {"id": "x", "conversations": [
                  {"from": "human", "value": "hi"}, {"from": "human", "value": "again"},
                  {"from": "gpt", "value": "ok"}]}""");
        assertEquals(tmp.resolve("llava.json") + ":2: bad record: conversations[1].from: roles out of order: "
                + "expected assistant after user, got user", e.getMessage());
    }

    @Test
    void emptyAssistantTurn() throws Exception {
        Mm1Exception e = refused("""
                {"id": "x", "conversations": [
                  {"from": "human", "value": "hi"}, {"from": "gpt", "value": "  "}]}""");
        assertEquals(tmp.resolve("llava.json") + ":2: bad record: conversations[1].value: empty assistant turn",
                e.getMessage());
    }

    @Test
    void conversationEndingWithTheUser() throws Exception {
        Mm1Exception e = refused("""
                {"id": "x", "conversations": [
                  {"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}, {"from": "human", "value": "?"}]}""");
        assertEquals(tmp.resolve("llava.json") + ":2: bad record: conversations[2].from: the conversation must end "
                + "with an assistant turn", e.getMessage());
    }
}
