package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDManager;
import io.mm1j.Mm1Exception;
import io.mm1j.TinyModel;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.RgbImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where text, image slots and stop tokens land for mm1j's template and real Hugging Face templates. */
class ChatTemplateTest {
    @TempDir
    static Path tmp;
    static TinyModel tiny;
    static Path dir;
    static Tokenizer tok;
    static NDManager m;
    static Mm1Model model;
    static final RgbImage PIXEL = new RgbImage(1, 1, new byte[] {10, 20, 30});

    /** Llama-2-chat's template (string content, strip(), loop.index0, raise_exception, slicing). */
    static final String LLAMA2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
            + "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
            + "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if loop.index0 == 0 and system_message != false %}"
            + "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
            + "{% else %}{% set content = message['content'] %}{% endif %}"
            + "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
            + "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
            + "{% endfor %}";

    @BeforeAll
    static void init() {
        tiny = TinyModel.init(tmp.resolve("tiny"));
        dir = tiny.dir();
        tok = tiny.tokenizer();
        m = tiny.manager();
        model = tiny.model();
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    static List<ChatMessage> question() {
        return List.of(ChatMessage.text("system", "Be brief."),
                new ChatMessage("user", List.of(new ChatMessage.ImagePart(PIXEL),
                        new ChatMessage.TextPart("What is it?"))));
    }

    @Test
    void initWritesMm1jsTemplateAndItRendersTurnsWithImagesInPlace() {
        ChatTemplate t = ChatTemplate.forModel(dir, tok);
        assertEquals(dir.resolve("tokenizer_config.json").toString(), t.origin());
        assertEquals("<s><|system|>Be brief.<|end|><|user|><image>What is it?<|end|><|assistant|>",
                t.render(question(), true));
        assertEquals("<s><|user|>hi<|end|><|assistant|>yes<|end|>",
                t.render(List.of(ChatMessage.text("user", "hi"), ChatMessage.text("assistant", "yes")), false));
        assertEquals(List.of("<|end|>", "</s>"), t.stopStrings());
        assertEquals(Set.of(SpecialTokens.END_OF_TURN_ID, SpecialTokens.EOS_ID), t.stopIds());
    }

    @Test
    void mm1jPromptIdsPinEveryMarkerAndTheImageRun() {
        Prompt p = new PromptBuilder(model, tok).fromChat(ChatTemplate.forModel(dir, tok), question(), true);
        int k = model.imageTokens();
        long[] expected = concat(new long[] {SpecialTokens.BOS_ID, SpecialTokens.SYSTEM_ID}, tok.encode("Be brief."),
                new long[] {SpecialTokens.END_OF_TURN_ID, SpecialTokens.USER_ID}, run(k),
                tok.encode("What is it?"), new long[] {SpecialTokens.END_OF_TURN_ID, SpecialTokens.ASSISTANT_ID});
        assertArrayEquals(expected, p.ids());
        assertEquals(k, p.imageTokenCount());
        assertEquals(List.of(PIXEL), p.images());
    }

    @Test
    void llava15TemplateFromAProcessorFolder() throws IOException {
        Path llava = tmp.resolve("llava");
        Files.createDirectories(llava);
        copy("/chat/llava15/chat_template.json", llava.resolve("chat_template.json"));
        copy("/chat/llava15/tokenizer_config.json", llava.resolve("tokenizer_config.json"));
        ChatTemplate t = ChatTemplate.forModel(llava, tok);
        List<ChatMessage> chat = List.of(
                new ChatMessage("user", List.of(new ChatMessage.ImagePart(PIXEL),
                        new ChatMessage.TextPart("What is shown?"))),
                ChatMessage.text("assistant", "A cat."), ChatMessage.text("user", "Colour?"));
        assertEquals("USER: <image>\nWhat is shown? ASSISTANT: A cat. USER: Colour? ASSISTANT:", t.render(chat, true));
        assertEquals(List.of("</s>"), t.stopStrings(), "LLaVA-1.5 ends a turn with EOS only");
        assertEquals(Set.of(SpecialTokens.EOS_ID), t.stopIds());

        Prompt p = new PromptBuilder(model, tok).fromChat(t, chat.subList(0, 1), true);
        long[] expected = concat(new long[] {SpecialTokens.BOS_ID}, tok.encode("USER: "), run(model.imageTokens()),
                tok.encode("\nWhat is shown? ASSISTANT:"));
        assertArrayEquals(expected, p.ids(), "BOS (not in the template), then USER: <image>×k \\n text ASSISTANT:");
    }

    @Test
    void llama2TemplateWithStringContentStripAndRaiseException() {
        ChatTemplate t = ChatTemplate.of(LLAMA2, "llama2.jinja", "<s>", "</s>", tok);
        assertEquals("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n hi [/INST] yes </s><s>[INST] again [/INST]",
                t.render(List.of(ChatMessage.text("system", "Be brief."), ChatMessage.text("user", " hi "),
                        ChatMessage.text("assistant", "yes"), ChatMessage.text("user", "again")), true));
        assertEquals(List.of("</s>"), t.stopStrings());
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> t.render(List.of(ChatMessage.text("assistant", "first")), true));
        assertEquals("llama2.jinja: chat template refused the conversation: Conversation roles must alternate "
                + "user/assistant/user/assistant/...", e.getMessage());
    }

    @Test
    void chatmlEndOfTurnIsFoundAsAStop() {
        String chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
                + " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                + "{% endif %}";
        // this tokenizer has no <|im_end|> special: only EOS is a stop then
        assertEquals(List.of("</s>"), ChatTemplate.of(chatml, "chatml", "", "</s>", tok).stopStrings());
        assertEquals("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
                ChatTemplate.of(chatml, "chatml", "", "</s>", tok).render(List.of(ChatMessage.text("user", "hi")),
                        true));
    }

    @Test
    void loopFiltersKeepJinjasLoopCounters() {
        String t = "{% for m in messages if m['role'] != 'system' %}{{ loop.index }}{{ m['content'] }}"
                + "{% if loop.last %}.{% endif %}{% endfor %}|{%- for m in messages if m.role == 'system' -%}"
                + "{{ m.content }}{%- endfor %}";
        assertEquals("1a2b.|S", ChatTemplate.of(t, "filters", "", "", tok).render(List.of(
                ChatMessage.text("system", "S"), ChatMessage.text("user", "a"), ChatMessage.text("assistant", "b")),
                false));
    }

    @Test
    void llama3StyleWhitespaceControlFromAJinjaFile() throws IOException {
        Path l3 = tmp.resolve("llama3");
        Files.createDirectories(l3);
        copy("/chat/llama3/chat_template.jinja", l3.resolve("chat_template.jinja"));
        Files.writeString(l3.resolve("tokenizer_config.json"), "{\"bos_token\": \"<|begin_of_text|>\", "
                + "\"eos_token\": \"<|eot_id|>\"}");
        ChatTemplate t = ChatTemplate.forModel(l3, tok);
        assertEquals(l3.resolve("chat_template.jinja").toString(), t.origin());
        // what transformers renders ({{- and {%- trim, set messages = messages[1:], 'x' in dict, content | trim)
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
                + "December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user"
                + "<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nyo<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", t.render(List.of(
                        ChatMessage.text("system", " Be brief. "), ChatMessage.text("user", " hi "),
                        ChatMessage.text("assistant", "yo")), true));
    }

    @Test
    void strftimeNowFormatsTodayLikePython() {
        String expected = java.time.format.DateTimeFormatter.ofPattern("dd MMM yyyy", java.util.Locale.ROOT)
                .format(java.time.LocalDate.now());
        String got = ChatTemplate.of("{{ strftime_now('%d %b %Y') }}", "t", "", "", tok).render(List.of(), false);
        assertEquals(expected, got);
    }

    @Test
    void mm1jRefusesUnknownRoles() {
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> ChatTemplate.mm1j(tok).render(List.of(ChatMessage.text("tool", "x")), false));
        assertEquals("mm1j default chat template: chat template refused the conversation: role must be system, user "
                + "or assistant, got tool", e.getMessage());
    }

    @Test
    void brokenTemplatesNameTheirFile() throws IOException {
        Path bad = tmp.resolve("bad");
        Files.createDirectories(bad);
        Files.writeString(bad.resolve("tokenizer_config.json"), "{\"chat_template\": \"{% if x %}unclosed\"}");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> ChatTemplate.forModel(bad, tok));
        assertEquals(bad.resolve("tokenizer_config.json") + ": chat template error at line 1: Missing end tag: endif "
                + "for tag defined as: {% if x %}", e.getMessage().replace("Syntax error in '{% if x %}': ", ""));
        Files.writeString(bad.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"tool_use\", "
                + "\"template\": \"x\"}]}");
        e = assertThrows(Mm1Exception.class, () -> ChatTemplate.forModel(bad, tok));
        assertEquals(bad.resolve("tokenizer_config.json") + ": chat_template is a list without a template named "
                + "\"default\"", e.getMessage());
        Files.writeString(bad.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"default\", "
                + "\"template\": \"{{ messages[0]['content'] }}!\"}]}");
        assertEquals("hi!", ChatTemplate.forModel(bad, tok).render(List.of(ChatMessage.text("user", "hi")), false));
        Files.writeString(bad.resolve("tokenizer_config.json"), "{\"chat_template\": 3");
        e = assertThrows(Mm1Exception.class, () -> ChatTemplate.forModel(bad, tok));
        assertEquals(true, e.getMessage().startsWith(bad.resolve("tokenizer_config.json") + ": not valid JSON"),
                e.getMessage());
    }

    /** To a text-only model '<image>' is text (a question about the HTML tag), and images are refused. */
    @Test
    void aTextOnlyModelReadsImagePlaceholdersAsText() {
        io.mm1j.config.Mm1Config c = new io.mm1j.config.Mm1Config("text", "text-only tiny", model.config().llm(),
                null, null, 0);
        try (NDManager sub = m.newSubManager(); Mm1Model text = Mm1Model.init(c, sub, ai.djl.ndarray.types.DataType
                .FLOAT32)) {
            PromptBuilder b = new PromptBuilder(text, tok);
            Prompt p = b.fromText("The <image> tag", List.of());
            assertEquals(1 + tok.encode("The <image> tag").length, p.length());
            assertEquals(0, p.imageTokenCount());
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> b.fromText("<image>", List.of(PIXEL)));
            assertEquals("model 'text' is text-only (no image encoder); it cannot take images", e.getMessage());
        }
    }

    @Test
    void slotAndImageCountsMustAgree() {
        PromptBuilder b = new PromptBuilder(model, tok);
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> b.fromText("<image> and <image>", List.of(PIXEL)));
        assertEquals("prompt has 2 <image> slot(s) but 1 image(s) were given", e.getMessage());
        Prompt p = b.fromText("<image><image>x", List.of(PIXEL, PIXEL));
        assertEquals(1 + 2 * model.imageTokens() + tok.encode("x").length, p.length());
        assertEquals(2 * model.imageTokens(), p.imageTokenCount());
    }

    static long[] run(int k) {
        return LongStream.generate(() -> SpecialTokens.IMAGE_ID).limit(k).toArray();
    }

    static long[] concat(long[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToLong(java.util.Arrays::stream).toArray();
    }

    static void copy(String resource, Path to) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(resource)) {
            Files.write(to, in.readAllBytes());
        }
    }
}
