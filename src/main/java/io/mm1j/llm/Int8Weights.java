package io.mm1j.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.Mm1Exception;
import io.mm1j.config.LlmConfig;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tensor.WeightFiles;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The int8 form of a dense decoder's weight matrices (token embedding, attention and MLP projections, LM head),
 * which the CPU decode path reads instead of float32 copies; norms stay float32.
 *
 * <p>File format (safetensors, as {@code mm1 quantize} writes it): a quantised matrix {@code NAME} (HF layout,
 * (out, in)) is stored as {@code NAME} with dtype I8 and shape (out, in), plus {@code NAME_scale} with dtype F32 and
 * shape (out, ceil(in / G)); the file's {@code __metadata__} holds {@code "mm1j.int8.group_size": "G"}. Value
 * {@code W[r, k] = NAME[r, k] · NAME_scale[r, k / G]} ({@link Int8Matrix}). Any other tensor keeps its dtype, so a
 * file may mix int8 and float matrices.
 */
public final class Int8Weights {
    /** Suffix of a quantised matrix's scale tensor. */
    public static final String SCALE_SUFFIX = "_scale";
    /** safetensors metadata key holding the group size (columns per scale) of the file's int8 matrices. */
    public static final String GROUP_SIZE_KEY = "mm1j.int8.group_size";

    private final Map<String, Int8Matrix> matrices;

    private Int8Weights(Map<String, Int8Matrix> matrices) {
        this.matrices = Collections.unmodifiableMap(matrices);
    }

    /** Int8 matrices by HF tensor name. */
    public static Int8Weights of(Map<String, Int8Matrix> matrices) {
        return new Int8Weights(new LinkedHashMap<>(matrices));
    }

    /** The tensors int8 quantisation covers: every weight matrix of a dense decoder (in file order). */
    public static List<String> matrixNames(LlmConfig c) {
        if (c.moe() != null) {
            throw new Mm1Exception("int8 weights cover dense decoders; this model has MoE layers (the CPU decode "
                    + "path, which reads int8, does not run MoE)");
        }
        return Decoder.expectedShapes(c).entrySet().stream().filter(e -> e.getValue().dimension() == 2)
                .map(Map.Entry::getKey).toList();
    }

    /** Quantises every weight matrix of {@code d} with {@code group} columns per scale. */
    public static Int8Weights quantize(Decoder d, int group) {
        return quantize(d, matrixNames(d.config()), group);
    }

    /** Quantises the named matrices of {@code d} (each with the group size given). */
    static Int8Weights quantize(Decoder d, Iterable<String> names, int group) {
        Map<String, Int8Matrix> out = new LinkedHashMap<>();
        for (String name : names) {
            NDArray a = d.params().get(name);
            Shape s = a.getShape();
            float[] v = a.getDataType() == DataType.FLOAT32 ? a.toFloatArray()
                    : a.toType(DataType.FLOAT32, false).toFloatArray();
            try {
                out.put(name, Int8Matrix.quantize(v, (int) s.get(0), (int) s.get(1), group));
            } catch (Mm1Exception e) {
                throw new Mm1Exception("tensor '" + name + "': " + e.getMessage(), e);
            }
        }
        return new Int8Weights(out);
    }

    /** The int8 matrix stored under {@code name}, or null when that tensor is float. */
    public Int8Matrix get(String name) {
        return matrices.get(name);
    }

    public Map<String, Int8Matrix> all() {
        return matrices;
    }

    /** Heap bytes of the int8 values and scales. */
    public long bytes() {
        return matrices.values().stream().mapToLong(Int8Matrix::bytes).sum();
    }

    /**
     * Replaces each covered parameter by its dequantised values, so that every path that reads the parameters (the
     * DJL forward pass, perplexity, image splicing) computes the same model as the int8 CPU decode path.
     */
    void applyTo(ParamStore p) {
        for (Map.Entry<String, Int8Matrix> e : matrices.entrySet()) {
            Int8Matrix m = e.getValue();
            p.put(e.getKey(), p.manager().create(m.dequantize(), new Shape(m.rows(), m.cols())));
        }
    }

    /** True when the weight files store {@code name} as int8. */
    public static boolean isInt8(WeightFiles w, String name) {
        return w.contains(name) && w.fileOf(name).entry(w.fileKey(name)).dtype().equals("I8");
    }

    /**
     * Reads the int8 matrix {@code name} and its scales, checking dtypes, shapes and the group size against
     * {@code expected}; errors name the file and tensor.
     */
    public static Int8Matrix read(WeightFiles w, String name, Shape expected) {
        SafeTensors st = w.use(name);
        String key = w.fileKey(name);
        String where = st.path() + ": tensor '" + key + "'";
        SafeTensors.Entry e = st.entry(key);
        if (expected.dimension() != 2) {
            throw new Mm1Exception(where + " is stored as int8, but only weight matrices can be (this tensor has "
                    + "shape " + expected + "; store it as a float)");
        }
        if (!expected.equals(e.djlShape())) {
            throw new Mm1Exception(where + " has shape " + e.djlShape() + " but the config needs " + expected);
        }
        String g = st.metadata().get(GROUP_SIZE_KEY);
        int group;
        try {
            group = Integer.parseInt(g == null ? "" : g.trim());
        } catch (NumberFormatException ex) {
            group = 0;
        }
        if (group < 1) {
            throw new Mm1Exception(where + " is int8, but the file's metadata '" + GROUP_SIZE_KEY + "' is "
                    + (g == null ? "missing" : "'" + g + "'") + " (expected the columns per scale, e.g. 32)");
        }
        int rows = (int) expected.get(0);
        int cols = (int) expected.get(1);
        String scaleName = name + SCALE_SUFFIX;
        if (!w.contains(scaleName)) {
            throw new Mm1Exception(where + " is int8 but its scales '" + key + SCALE_SUFFIX + "' are missing");
        }
        SafeTensors ss = w.use(scaleName);
        String scaleKey = w.fileKey(scaleName);
        Shape scaleShape = new Shape(rows, Int8Matrix.groups(cols, group));
        Shape found = ss.entry(scaleKey).djlShape();
        if (!scaleShape.equals(found)) {
            throw new Mm1Exception(ss.path() + ": tensor '" + scaleKey + "' has shape " + found + " but int8 tensor '"
                    + key + "' " + expected + " with group size " + group + " needs " + scaleShape);
        }
        try {
            return new Int8Matrix(st.int8s(key), ss.floats(scaleKey), rows, cols, group);
        } catch (Mm1Exception ex) {
            if (ex.getMessage().startsWith(ss.path().toString())) {
                throw ex; // already names the file and tensor
            }
            throw new Mm1Exception(ss.path() + ": tensor '" + scaleKey + "': " + ex.getMessage(), ex);
        }
    }

    /** {@code m} as the two tensors of the file format, under {@code key} and {@code key + "_scale"}. */
    public static List<SafeTensorsWriter.Tensor> tensors(String key, Int8Matrix m) {
        ByteBuffer q = ByteBuffer.wrap(m.values());
        float[] scales = m.scales();
        ByteBuffer s = ByteBuffer.allocate(4 * scales.length).order(ByteOrder.LITTLE_ENDIAN);
        s.asFloatBuffer().put(scales);
        return List.of(new SafeTensorsWriter.Tensor(key, "I8", new long[] {m.rows(), m.cols()}, q),
                new SafeTensorsWriter.Tensor(key + SCALE_SUFFIX, "F32",
                        new long[] {m.rows(), Int8Matrix.groups(m.cols(), m.group())}, s));
    }
}
