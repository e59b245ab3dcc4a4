package io.mm1j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class Utf8Test {
    private static Utf8.Position check(int... bytes) throws IOException {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return Utf8.firstMalformed(new ByteArrayInputStream(b));
    }

    @Test
    void wellFormedTextOfEveryLengthPasses() throws IOException {
        byte[] text = "a\u00e9\u20ac\uD83D\uDE00\n\u10FF".getBytes(StandardCharsets.UTF_8); // 1-, 2-, 3-, 4-byte forms
        assertNull(Utf8.firstMalformed(new ByteArrayInputStream(text)));
        assertNull(check(0xF4, 0x8F, 0xBF, 0xBF)); // U+10FFFF, the last code point
    }

    /** Each rule of Unicode Table 3-7; the offset is that of the sequence's lead byte. */
    @Test
    void illFormedSequencesAreFoundAtTheirLeadByte() throws IOException {
        assertEquals(new Utf8.Position(1, 1), check('a', 0xC0, 0x80)); // overlong 2-byte NUL
        assertEquals(new Utf8.Position(0, 1), check(0xE0, 0x80, 0x80)); // overlong 3-byte form
        assertEquals(new Utf8.Position(0, 1), check(0xED, 0xA0, 0x80)); // UTF-16 surrogate D800
        assertEquals(new Utf8.Position(0, 1), check(0xF0, 0x80, 0x80, 0x80)); // overlong 4-byte form
        assertEquals(new Utf8.Position(0, 1), check(0xF4, 0x90, 0x80, 0x80)); // above U+10FFFF
        assertEquals(new Utf8.Position(2, 2), check('\n', 'b', 0x80)); // a lone continuation byte, line 2
        assertEquals(new Utf8.Position(1, 1), check('x', 0xE2, 0x82)); // truncated at the end of the input
        assertEquals(new Utf8.Position(0, 1), check(0xF8, 0x88, 0x80, 0x80, 0x80)); // 5-byte forms do not exist
    }

    @Test
    void strictDecodingNamesTheSource() {
        byte[] b = {'o', 'k', '\n', (byte) 0xFF};
        assertEquals("x.json:2: not valid UTF-8 text (byte offset 3)",
                assertThrows(Mm1Exception.class, () -> BoundedFiles.decodeUtf8(b, "x.json")).getMessage());
        assertEquals("ok\n", BoundedFiles.decodeUtf8(new byte[] {'o', 'k', '\n'}, "x.json"));
    }
}
