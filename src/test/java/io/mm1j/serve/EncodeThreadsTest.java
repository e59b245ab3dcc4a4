package io.mm1j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Quantization;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** How many libtorch threads a server leaves for image encoding. */
class EncodeThreadsTest {
    @Test
    void halfTheCoresWhenLibtorchOnlyEncodesImages() {
        int half = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
        assertEquals(half, Mm1Backend.encodeThreads(0, true, true));
        assertEquals(0, Mm1Backend.encodeThreads(0, false, true), "the djl path decodes with libtorch: left alone");
        assertEquals(0, Mm1Backend.encodeThreads(0, true, false), "a text model: libtorch has nothing to do");
        assertEquals(3, Mm1Backend.encodeThreads(3, true, true), "asked for");
        assertEquals(3, Mm1Backend.encodeThreads(3, false, false), "asked for");
    }

    @Test
    void aNegativeCountIsRefusedBeforeTheModelLoads() {
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> new Mm1Backend(Path.of("no-such-model"), "m", null,
                DecodePath.CPU, 0, Quantization.NONE, 4, -1));
        assertEquals("--encode-threads must be >= 0 (0 = automatic), got -1", e.getMessage());
    }
}
