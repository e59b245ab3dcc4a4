package io.mm1j.tensor;

import io.mm1j.Mm1Exception;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One safetensors file, opened for reading.
 *
 * <p>Format (huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON
 * {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}}, then the raw little-endian
 * data; offsets are relative to the end of the header. Every entry is validated against the file size and its
 * dtype × shape when the file is opened, so a lying header fails here with the file and tensor named.
 *
 * <p>Tensors are memory-mapped one at a time (a single mapping is limited to 2 GB, files are not), converted to
 * float32 where needed (BF16 must never become a CPU NDArray: DJL cookbook pitfall 3), and copied into a fresh
 * buffer so that parameters are writable and independent of the mapping.
 */
public final class SafeTensors implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L * 1024 * 1024;

    /** One tensor's header entry. Offsets are absolute positions in the file. */
    public record Entry(String name, String dtype, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        public Shape djlShape() {
            return new Shape(shape);
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafeTensors(Path path, FileChannel channel, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Bytes per element of a safetensors dtype, or -1 when mm1j does not read it. */
    public static int dtypeSize(String dtype) {
        return switch (dtype) {
            case "F64", "I64" -> 8;
            case "F32", "I32" -> 4;
            case "F16", "BF16" -> 2;
            case "U8", "I8", "BOOL" -> 1;
            default -> -1;
        };
    }

    public static SafeTensors open(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new Mm1Exception(path + ": safetensors file not found");
        }
        FileChannel ch = null;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
            long size = ch.size();
            if (size < 8) {
                throw new Mm1Exception(path + ": truncated safetensors file (" + size + " bytes, no header length)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
                throw new Mm1Exception(path + ": bad safetensors header length " + headerLen + " (file has " + size
                        + " bytes)");
            }
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
            readFully(ch, headerBuf, 8);
            JsonNode header;
            try {
                header = JSON.readTree(new String(headerBuf.array(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new Mm1Exception(path + ": safetensors header is not valid JSON: " + e.getMessage());
            }
            if (header == null || !header.isObject()) {
                throw new Mm1Exception(path + ": safetensors header is not a JSON object");
            }
            long dataStart = 8 + headerLen;
            long dataLen = size - dataStart;
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                String name = f.getKey();
                JsonNode v = f.getValue();
                if (name.equals("__metadata__")) {
                    v.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                entries.put(name, parseEntry(path, name, v, dataStart, dataLen));
            }
            checkNoOverlap(path, entries.values(), dataStart);
            SafeTensors st = new SafeTensors(path, ch, Collections.unmodifiableMap(entries), metadata);
            ch = null; // owned by st now
            return st;
        } catch (IOException e) {
            throw new Mm1Exception(path + ": cannot read safetensors file: " + e.getMessage(), e);
        } finally {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // already failing
                }
            }
        }
    }

    private static Entry parseEntry(Path path, String name, JsonNode v, long dataStart, long dataLen) {
        String where = path + ": tensor '" + name + "'";
        JsonNode dtypeNode = v.get("dtype");
        JsonNode shapeNode = v.get("shape");
        JsonNode offNode = v.get("data_offsets");
        if (dtypeNode == null || shapeNode == null || offNode == null || !shapeNode.isArray() || !offNode.isArray()
                || offNode.size() != 2) {
            throw new Mm1Exception(where + ": header entry needs dtype, shape and data_offsets [begin, end]");
        }
        String dtype = dtypeNode.asText();
        int elemSize = dtypeSize(dtype);
        if (elemSize < 0) {
            throw new Mm1Exception(where + ": unsupported dtype " + dtype);
        }
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong(-1);
            if (shape[i] < 0) {
                throw new Mm1Exception(where + ": negative or non-integer dimension in shape " + shapeNode);
            }
            numel = multiplyOrMax(numel, shape[i]);
        }
        long bytes = multiplyOrMax(numel, elemSize);
        if (bytes == Long.MAX_VALUE) {
            throw new Mm1Exception(where + ": shape " + shapeNode + " is too large (its byte count overflows 64 bits)");
        }
        long begin = offNode.get(0).asLong(-1);
        long end = offNode.get(1).asLong(-1);
        if (begin < 0 || end < begin || end > dataLen) {
            throw new Mm1Exception(where + ": data_offsets [" + begin + ", " + end + "] lie outside the data section ("
                    + dataLen + " bytes; file truncated or header lying)");
        }
        if (end - begin != bytes) {
            throw new Mm1Exception(where + ": data_offsets give " + (end - begin) + " bytes but " + dtype + " shape "
                    + shapeNode + " needs " + bytes);
        }
        return new Entry(name, dtype, shape, dataStart + begin, dataStart + end);
    }

    /** {@code a · b} for non-negative factors, or Long.MAX_VALUE when the product does not fit. */
    private static long multiplyOrMax(long a, long b) {
        return b != 0 && a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b;
    }

    /**
     * Two tensors must not share bytes (the format's rule; the reference reader also refuses gaps, which are
     * harmless here): an overlap would make writing one parameter change another after loading.
     */
    private static void checkNoOverlap(Path path, java.util.Collection<Entry> entries, long dataStart) {
        List<Entry> sorted = new ArrayList<>();
        for (Entry e : entries) {
            if (e.end() > e.begin()) { // an empty tensor occupies no bytes
                sorted.add(e);
            }
        }
        sorted.sort(java.util.Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1);
            Entry b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new Mm1Exception(path + ": tensors '" + a.name() + "' [" + (a.begin() - dataStart) + ", "
                        + (a.end() - dataStart) + ") and '" + b.name() + "' [" + (b.begin() - dataStart) + ", "
                        + (b.end() - dataStart) + ") overlap in the data section");
            }
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
            pos += n;
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new Mm1Exception(path + ": tensor '" + name + "' is missing");
        }
        return e;
    }

    /** The tensor's raw little-endian bytes (a read-only mapping). */
    public ByteBuffer raw(String name) {
        Entry e = entry(name);
        long len = e.end() - e.begin();
        if (len > Integer.MAX_VALUE) {
            throw new Mm1Exception(path + ": tensor '" + name + "' is larger than 2 GB; split it across shards");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, e.begin(), len).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException ex) {
            throw new Mm1Exception(path + ": cannot map tensor '" + name + "': " + ex.getMessage(), ex);
        }
    }

    /** The tensor as float32 values (F32, F16, BF16 and F64 are converted). */
    public float[] floats(String name) {
        Entry e = entry(name);
        ByteBuffer b = raw(name);
        int n = Math.toIntExact(e.numel());
        float[] out = new float[n];
        switch (e.dtype()) {
            case "F32" -> b.asFloatBuffer().get(out);
            case "F16" -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Half.toFloat(b.getShort(2 * i));
                }
            }
            case "BF16" -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
                }
            }
            case "F64" -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getDouble(8 * i);
                }
            }
            default -> throw new Mm1Exception(path + ": tensor '" + name + "' has dtype " + e.dtype()
                    + ", expected a floating-point dtype");
        }
        return out;
    }

    /** An I8 tensor's values. */
    public byte[] int8s(String name) {
        Entry e = entry(name);
        if (!e.dtype().equals("I8")) {
            throw new Mm1Exception(path + ": tensor '" + name + "' has dtype " + e.dtype() + ", expected I8");
        }
        byte[] out = new byte[Math.toIntExact(e.numel())];
        raw(name).get(out);
        return out;
    }

    /** An I64/I32 tensor as longs. */
    public long[] longs(String name) {
        Entry e = entry(name);
        ByteBuffer b = raw(name);
        int n = Math.toIntExact(e.numel());
        long[] out = new long[n];
        switch (e.dtype()) {
            case "I64" -> b.asLongBuffer().get(out);
            case "I32" -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(4 * i);
                }
            }
            default -> throw new Mm1Exception(path + ": tensor '" + name + "' has dtype " + e.dtype()
                    + ", expected I64 or I32");
        }
        return out;
    }

    /**
     * Loads a floating-point tensor as a float32 NDArray in {@code manager}, checking its shape.
     *
     * @param expected the shape the model needs, or null to accept the file's shape
     */
    public NDArray load(NDManager manager, String name, Shape expected) {
        Entry e = entry(name);
        if (expected != null && !expected.equals(e.djlShape())) {
            throw new Mm1Exception(path + ": tensor '" + name + "' has shape " + e.djlShape() + " but the config needs "
                    + expected);
        }
        float[] values = floats(name);
        ByteBuffer buf = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.nativeOrder());
        buf.asFloatBuffer().put(values);
        return manager.create(buf, e.djlShape(), DataType.FLOAT32);
    }

    /** Names of all tensors, in header order. */
    public List<String> names() {
        return new ArrayList<>(entries.keySet());
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // read-only channel; nothing to lose
        }
    }
}
