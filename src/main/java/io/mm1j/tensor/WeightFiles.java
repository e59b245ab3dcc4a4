package io.mm1j.tensor;

import io.mm1j.Mm1Exception;
import io.mm1j.io.SafePaths;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The weights of a model folder: {@code model.safetensors}, or shards listed in {@code model.safetensors.index.json}
 * ({@code {"weight_map": {tensor: file}}}), as Hugging Face writes them; shard names must stay inside the folder. Tracks which tensors were used so that a
 * loader can report unexpected leftovers.
 */
public final class WeightFiles implements AutoCloseable {
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Map<String, SafeTensors> byTensor = new LinkedHashMap<>();
    private final List<SafeTensors> files = new ArrayList<>();
    private final Set<String> used = new LinkedHashSet<>();
    private final Map<String, String> aliases = new LinkedHashMap<>(); // name used by a loader → name in the file

    private WeightFiles() {}

    public static WeightFiles open(Path dir) {
        WeightFiles w = new WeightFiles();
        Path index = dir.resolve(INDEX);
        Path single = dir.resolve(SINGLE);
        try {
            if (Files.isRegularFile(index)) {
                JsonNode root;
                try {
                    root = new ObjectMapper().readTree(index.toFile());
                } catch (IOException e) {
                    throw new Mm1Exception(index + ": not valid JSON: " + e.getMessage());
                }
                JsonNode map = root.get("weight_map");
                if (map == null || !map.isObject()) {
                    throw new Mm1Exception(index + ": missing object field 'weight_map'");
                }
                Map<String, SafeTensors> opened = new LinkedHashMap<>();
                for (var it = map.fields(); it.hasNext(); ) {
                    var f = it.next();
                    if (!f.getValue().isTextual()) {
                        throw new Mm1Exception(index + ": weight_map['" + f.getKey() + "'] must be a file name, got "
                                + f.getValue());
                    }
                    String file = f.getValue().asText();
                    SafeTensors st = opened.get(file);
                    if (st == null) {
                        // The index is data: a shard name of "../x" or "/etc/x" must not open files outside the model.
                        st = SafeTensors.open(SafePaths.regularFileInside(dir, file, index + ": weight_map['"
                                + f.getKey() + "']"));
                        opened.put(file, st);
                        w.files.add(st);
                    }
                    if (!st.entries().containsKey(f.getKey())) {
                        throw new Mm1Exception(index + ": weight_map sends tensor '" + f.getKey() + "' to " + file
                                + ", which does not contain it");
                    }
                    w.byTensor.put(f.getKey(), st);
                }
            } else if (Files.isRegularFile(single)) {
                SafeTensors st = SafeTensors.open(single);
                w.files.add(st);
                for (String name : st.names()) {
                    w.byTensor.put(name, st);
                }
            } else {
                throw new Mm1Exception(dir + ": no " + SINGLE + " or " + INDEX + " found");
            }
            return w;
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /**
     * Makes the file's tensor {@code fileName} loadable as {@code name} (a foreign checkpoint's key layout mapped
     * onto mm1j's names, e.g. LLaVA's {@code language_model.model.*} → {@code model.*}); {@link #names} and
     * {@link #unused} then report it under {@code name}. A missing {@code fileName} is ignored (the loader's own
     * check reports it).
     */
    public void alias(String name, String fileName) {
        SafeTensors st = byTensor.remove(fileName);
        if (st != null) {
            byTensor.put(name, st);
            aliases.put(name, fileName);
        }
    }

    /** The key a tensor has in its file ({@code name} itself unless {@link #alias aliased}). */
    public String fileKey(String name) {
        return aliases.getOrDefault(name, name);
    }

    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    public Set<String> names() {
        return byTensor.keySet();
    }

    public SafeTensors fileOf(String name) {
        SafeTensors st = byTensor.get(name);
        if (st == null) {
            Path where = files.isEmpty() ? Path.of("?") : files.get(0).path().getParent();
            throw new Mm1Exception(where + ": tensor '" + name + "' is missing from the model weights");
        }
        return st;
    }

    /** Loads {@code name} as float32 with the expected shape (error names the file and tensor). */
    public NDArray load(NDManager manager, String name, Shape expected) {
        SafeTensors st = fileOf(name);
        used.add(name);
        return st.load(manager, fileKey(name), expected);
    }

    /**
     * The file holding {@code name}, with the tensor marked as used: for loaders that read other dtypes than
     * {@link #load}'s float32 (read it under {@link #fileKey}).
     */
    public SafeTensors use(String name) {
        SafeTensors st = fileOf(name);
        used.add(name);
        return st;
    }

    /** Tensor names present in the files but never loaded. */
    public List<String> unused() {
        List<String> out = new ArrayList<>();
        for (String n : byTensor.keySet()) {
            if (!used.contains(n)) {
                out.add(n);
            }
        }
        return out;
    }

    @Override
    public void close() {
        for (SafeTensors f : files) {
            f.close();
        }
    }
}
