package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import io.mm1j.tokenizer.SpecialTokens;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Roles without chat markers (a LLaVA folder's tokenizer: {@code <pad>} and {@code <image>} only, as
 * {@link SpecialTokens.Ids#forChatTemplate} gives them) serve conversations only through a chat template: without
 * one, the encoder refuses instead of writing id -1.
 */
class ConversationMarkersTest {
    @Test
    void aConversationWithoutATemplateNeedsTheMarkers() {
        SpecialTokens.Ids noMarkers = new SpecialTokens.Ids(40, 1, 2, 39, -1, -1, -1, -1);
        SampleEncoder enc = new SampleEncoder(text -> new long[] {5}, img -> new float[0], noMarkers);
        Sample.Conversation c = new Sample.Conversation("c", List.of(), List.of(new Sample.Turn("user", "hi"),
                new Sample.Turn("assistant", "hello")));
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> enc.prepare(c, null, null));
        assertEquals("a conversation needs a chat template or a tokenizer with mm1j's chat markers ([<|system|>, "
                + "<|user|>, <|assistant|>, <|end|>])", e.getMessage());
    }
}
