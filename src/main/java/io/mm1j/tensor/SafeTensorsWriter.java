package io.mm1j.tensor;

import io.mm1j.Mm1Exception;
import io.mm1j.io.AtomicFiles;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a safetensors file atomically: data goes to a temporary file in the same folder, is forced to disk, then
 * moved over the target in one step, so a crash never leaves a half-written checkpoint under the real name.
 */
public final class SafeTensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One tensor to write: raw little-endian bytes of {@code dtype} with {@code shape}. */
    public record Tensor(String name, String dtype, long[] shape, ByteBuffer data) {
        public static Tensor f32(String name, long[] shape, float[] values) {
            ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(values);
            return new Tensor(name, "F32", shape, b);
        }

        public static Tensor i64(String name, long[] shape, long[] values) {
            ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(values);
            return new Tensor(name, "I64", shape, b);
        }
    }

    private final List<Tensor> tensors = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafeTensorsWriter add(Tensor t) {
        tensors.add(t);
        return this;
    }

    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Total bytes of tensor data added so far. */
    public long dataBytes() {
        long n = 0;
        for (Tensor t : tensors) {
            n += t.data().remaining();
        }
        return n;
    }

    public void write(Path target) {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Tensor t : tensors) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", t.dtype());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long len = t.data().remaining();
            e.putArray("data_offsets").add(offset).add(offset + len);
            offset += len;
        }
        byte[] headerBytes;
        try {
            headerBytes = JSON.writeValueAsBytes(header);
        } catch (IOException e) {
            throw new Mm1Exception(target + ": cannot encode safetensors header: " + e.getMessage(), e);
        }
        int pad = (8 - headerBytes.length % 8) % 8; // align the data section to 8 bytes, padding with spaces
        byte[] padded = new byte[headerBytes.length + pad];
        System.arraycopy(headerBytes, 0, padded, 0, headerBytes.length);
        for (int i = headerBytes.length; i < padded.length; i++) {
            padded[i] = ' ';
        }
        AtomicFiles.write(target, out -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length);
            out.write(len.array());
            out.write(padded);
            byte[] chunk = new byte[1 << 20];
            for (Tensor t : tensors) {
                ByteBuffer d = t.data().duplicate();
                while (d.hasRemaining()) {
                    int n = Math.min(chunk.length, d.remaining());
                    d.get(chunk, 0, n);
                    out.write(chunk, 0, n);
                }
            }
        });
    }
}
