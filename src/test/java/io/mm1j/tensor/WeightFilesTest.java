package io.mm1j.tensor;

import io.mm1j.Mm1Exception;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.mm1j.TestSupport;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightFilesTest {
    @TempDir
    Path dir;

    @Test
    void shardedCheckpointLoadsThroughTheIndex() throws IOException {
        new SafeTensorsWriter().add(SafeTensorsWriter.Tensor.f32("a", new long[] {2}, new float[] {1, 2}))
                .write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafeTensorsWriter().add(SafeTensorsWriter.Tensor.f32("b", new long[] {1, 3}, new float[] {3, 4, 5}))
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve(WeightFiles.INDEX), "{\"metadata\": {\"total_size\": 20}, \"weight_map\": "
                + "{\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00002-of-00002.safetensors\"}}");
        try (NDManager m = TestSupport.root().newSubManager(); WeightFiles w = WeightFiles.open(dir)) {
            assertEquals(List.of("a", "b"), List.copyOf(w.names()));
            NDArray b = w.load(m, "b", new Shape(1, 3));
            assertArrayEquals(new float[] {3, 4, 5}, b.toFloatArray());
            assertEquals(List.of("a"), w.unused());
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> w.load(m, "a", new Shape(3)));
            assertEquals(dir.resolve("model-00001-of-00002.safetensors") + ": tensor 'a' has shape (2) but the config "
                    + "needs (3)", e.getMessage());
        }
    }

    @Test
    void indexPointingToTheWrongShardIsRefused() throws IOException {
        new SafeTensorsWriter().add(SafeTensorsWriter.Tensor.f32("a", new long[] {1}, new float[] {1}))
                .write(dir.resolve("s1.safetensors"));
        Files.writeString(dir.resolve(WeightFiles.INDEX), "{\"weight_map\": {\"zz\": \"s1.safetensors\"}}");
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> WeightFiles.open(dir));
        assertEquals(dir.resolve(WeightFiles.INDEX) + ": weight_map sends tensor 'zz' to s1.safetensors, which does "
                + "not contain it", e.getMessage());
    }

    @Test
    void shardNamesThatLeaveTheModelFolderAreRefused() throws IOException {
        Path model = Files.createDirectories(dir.resolve("model"));
        new SafeTensorsWriter().add(SafeTensorsWriter.Tensor.f32("a", new long[] {1}, new float[] {1}))
                .write(dir.resolve("outside.safetensors"));
        Path index = model.resolve(WeightFiles.INDEX);
        Files.writeString(index, "{\"weight_map\": {\"a\": \"../outside.safetensors\"}}");
        assertEquals(index + ": weight_map['a']: '../outside.safetensors' leads outside " + model,
                assertThrows(Mm1Exception.class, () -> WeightFiles.open(model)).getMessage());
        String abs = dir.resolve("outside.safetensors").toString();
        Files.writeString(index, "{\"weight_map\": {\"a\": \"" + abs + "\"}}");
        assertEquals(index + ": weight_map['a']: absolute path '" + abs + "' not allowed (paths are relative to "
                + model + ")", assertThrows(Mm1Exception.class, () -> WeightFiles.open(model)).getMessage());
    }

    @Test
    void emptyFolderIsRefused() {
        assertEquals(dir + ": no model.safetensors or model.safetensors.index.json found",
                assertThrows(Mm1Exception.class, () -> WeightFiles.open(dir)).getMessage());
    }

    /** A sparse file whose second tensor starts beyond 2 GiB: one MappedByteBuffer could not reach it. */
    @Test
    void readsTensorsBeyondTwoGigabytes() throws IOException {
        long pad = (1L << 31) + 24;
        String header = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + pad + "],\"data_offsets\":[0," + pad + "]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + pad + "," + (pad + 8) + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("big.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
            raf.write(len.array());
            raf.write(h);
            long dataStart = 8 + h.length;
            raf.seek(dataStart + pad);
            ByteBuffer w = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f);
            raf.write(w.array()); // everything before is a hole: no disk space used
        }
        try (SafeTensors st = SafeTensors.open(f)) {
            assertArrayEquals(new float[] {1.5f, -2f}, st.floats("w"));
        }
    }
}
