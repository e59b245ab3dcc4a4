package io.mm1j.tensor;

import io.mm1j.Mm1Exception;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsF32AndI64AndReadsF16AndBf16() {
        Path f = dir.resolve("t.safetensors");
        ByteBuffer f16 = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
        f16.putShort((short) 0x3c00).putShort((short) 0xc000).putShort((short) 0x3555).flip(); // 1, -2, 0.333
        ByteBuffer bf16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        bf16.putShort((short) 0x3f80).putShort((short) 0x4049).flip(); // 1.0, 3.140625
        new SafeTensorsWriter()
                .add(SafeTensorsWriter.Tensor.f32("a", new long[] {2, 2}, new float[] {1f, -2.5f, 3e-8f, 7f}))
                .add(SafeTensorsWriter.Tensor.i64("ids", new long[] {3}, new long[] {1, -5, 1L << 40}))
                .add(new SafeTensorsWriter.Tensor("h", "F16", new long[] {3}, f16))
                .add(new SafeTensorsWriter.Tensor("b", "BF16", new long[] {2}, bf16))
                .metadata("format", "pt")
                .write(f);
        try (SafeTensors st = SafeTensors.open(f)) {
            assertArrayEquals(new float[] {1f, -2.5f, 3e-8f, 7f}, st.floats("a"));
            assertArrayEquals(new long[] {1, -5, 1L << 40}, st.longs("ids"));
            assertArrayEquals(new float[] {1f, -2f, 0.33325195f}, st.floats("h"));
            assertArrayEquals(new float[] {1f, 3.140625f}, st.floats("b"));
            assertEquals("pt", st.metadata().get("format"));
            assertArrayEquals(new long[] {2, 2}, st.entry("a").shape());
        }
    }

    @Test
    void halfConversionRoundTripsEveryHalfValue() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = Half.toFloat((short) bits);
            if (Float.isNaN(f)) {
                continue;
            }
            assertEquals((short) bits, Half.fromFloat(f), "half bits " + Integer.toHexString(bits));
        }
    }

    @Test
    void headerLyingAboutOffsetsIsRefusedWithFileAndTensorNamed() throws IOException {
        Path f = write("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,64]}}", 16);
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> SafeTensors.open(f));
        assertEquals(f + ": tensor 'w': data_offsets [0, 64] lie outside the data section (16 bytes; file truncated "
                + "or header lying)", e.getMessage());
    }

    @Test
    void shapeNotMatchingByteCountIsRefused() throws IOException {
        Path f = write("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16);
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> SafeTensors.open(f));
        assertEquals(f + ": tensor 'w': data_offsets give 16 bytes but F32 shape [3] needs 12", e.getMessage());
    }

    @Test
    void truncatedAndEmptyFilesAreRefused() throws IOException {
        Path empty = dir.resolve("empty.safetensors");
        Files.write(empty, new byte[0]);
        assertEquals(empty + ": truncated safetensors file (0 bytes, no header length)",
                assertThrows(Mm1Exception.class, () -> SafeTensors.open(empty)).getMessage());
        Path big = dir.resolve("big.safetensors");
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        Files.write(big, b.array());
        assertTrue(assertThrows(Mm1Exception.class, () -> SafeTensors.open(big)).getMessage()
                .startsWith(big + ": bad safetensors header length 1000"));
    }

    @Test
    void unknownDtypeIsRefused() throws IOException {
        Path f = write("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        assertEquals(f + ": tensor 'w': unsupported dtype F8_E4M3",
                assertThrows(Mm1Exception.class, () -> SafeTensors.open(f)).getMessage());
    }

    @Test
    void atomicWriteLeavesNoTempFiles() throws IOException {
        Path f = dir.resolve("x.safetensors");
        new SafeTensorsWriter().add(SafeTensorsWriter.Tensor.f32("a", new long[] {1}, new float[] {1})).write(f);
        new SafeTensorsWriter().add(SafeTensorsWriter.Tensor.f32("a", new long[] {1}, new float[] {2})).write(f);
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count());
        }
        try (SafeTensors st = SafeTensors.open(f)) {
            assertArrayEquals(new float[] {2}, st.floats("a"));
        }
    }

    @Test
    void overlappingTensorsAreRefusedWithBothNamed() throws IOException {
        Path f = write("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16);
        assertEquals(f + ": tensors 'a' [0, 16) and 'b' [8, 16) overlap in the data section",
                assertThrows(Mm1Exception.class, () -> SafeTensors.open(f)).getMessage());
        Path ok = write("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16);
        try (SafeTensors st = SafeTensors.open(ok)) { // adjacent in any header order, and an empty tensor, are fine
            assertEquals(3, st.names().size());
        }
    }

    @Test
    void aShapeWhoseSizeOverflowsIsAClearError() throws IOException {
        Path f = write("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                + "\"data_offsets\":[0,16]}}", 16);
        assertEquals(f + ": tensor 'w': shape [1099511627776,1099511627776] is too large (its byte count overflows "
                + "64 bits)", assertThrows(Mm1Exception.class, () -> SafeTensors.open(f)).getMessage());
        Path g = write("{\"w\":{\"dtype\":\"F64\",\"shape\":[1152921504606846976],\"data_offsets\":[0,16]}}",
                16); // 2^60 elements fit in a long, their 2^63 bytes do not
        assertEquals(g + ": tensor 'w': shape [1152921504606846976] is too large (its byte count overflows 64 bits)",
                assertThrows(Mm1Exception.class, () -> SafeTensors.open(g)).getMessage());
    }

    private Path write(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, b.array());
        return f;
    }
}
