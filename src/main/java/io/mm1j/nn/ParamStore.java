package io.mm1j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.Scalars;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Named parameters of a model, in one long-lived manager (DJL cookbook pitfall 4). Names are the Hugging Face
 * tensor names (e.g. {@code model.layers.0.self_attn.q_proj.weight}) so that checkpoints load in HF tools.
 * Whole components are frozen by name prefix (MM1 trains everything unfrozen; ablations freeze parts).
 */
public final class ParamStore implements AutoCloseable {
    private final NDManager manager;
    private final DataType dtype;
    private final Scalars scalars;
    private final Map<String, NDArray> params = new LinkedHashMap<>();
    private final Set<String> frozenPrefixes = new LinkedHashSet<>();
    private volatile long version; // written by the training thread, read by generation

    public ParamStore(NDManager parent, DataType dtype) {
        this.manager = parent.newSubManager();
        this.dtype = dtype;
        this.scalars = new Scalars(manager);
    }

    public NDManager manager() {
        return manager;
    }

    public DataType dtype() {
        return dtype;
    }

    public Scalars scalars() {
        return scalars;
    }

    /** A scalar of this store's dtype, cached (safe inside autograd). */
    public NDArray scalar(double value) {
        return scalars.of(value, dtype);
    }

    /** Registers {@code value} (converted to the store's dtype, moved into its manager) under {@code name}. */
    public NDArray put(String name, NDArray value) {
        NDArray v = value.getDataType() == dtype ? value : value.toType(dtype, false);
        if (v != value) {
            value.close();
        }
        v.attach(manager);
        NDScope.unregister(v);
        v.setName(name);
        version++;
        NDArray old = params.put(name, v);
        if (old != null && old != v) {
            old.close();
        }
        return v;
    }

    /** Normal(0, std) initialised parameter. */
    public NDArray normal(String name, Shape shape, double std) {
        NDArray a = manager.randomNormal(0f, (float) std, shape, DataType.FLOAT32);
        return put(name, a);
    }

    public NDArray ones(String name, Shape shape) {
        return put(name, manager.ones(shape, DataType.FLOAT32));
    }

    public NDArray zeros(String name, Shape shape) {
        return put(name, manager.zeros(shape, DataType.FLOAT32));
    }

    public NDArray get(String name) {
        NDArray a = params.get(name);
        if (a == null) {
            throw new Mm1Exception("parameter '" + name + "' does not exist");
        }
        return a;
    }

    /**
     * A trainable addition to some linear layers that leaves their weights untouched (LoRA: {@code train.Lora}).
     * Layers ask the store for {@code linear(x, weightName)}; the adapter adds its term for the weights it covers.
     */
    public interface LinearAdapter {
        /** True when the adapter adds a term to the layer of {@code weightName}. */
        boolean covers(String weightName);

        /** The adapter's output term for input {@code x (…, in)}: {@code (…, out)}. */
        NDArray delta(String weightName, NDArray x);

        /** True for the adapter's own tensors in this store (not part of the base model when it is saved). */
        boolean owns(String paramName);
    }

    private volatile LinearAdapter adapter;

    /** Attaches (or with null detaches) a {@link LinearAdapter}. */
    public void adapter(LinearAdapter a) {
        this.adapter = a;
        version++;
    }

    /** The attached adapter, or null. */
    public LinearAdapter adapter() {
        return adapter;
    }

    /** {@code x @ W.T} for the weight {@code weight} (HF [out, in] layout), plus the adapter's term if any. */
    public NDArray linear(NDArray x, String weight) {
        NDArray y = Ops.linear(x, get(weight));
        LinearAdapter a = adapter;
        return a != null && a.covers(weight) ? y.add(a.delta(weight, x)) : y;
    }

    /** {@code x @ W.T + b}, plus the adapter's term if any. */
    public NDArray linear(NDArray x, String weight, String bias) {
        NDArray y = Ops.linear(x, get(weight), get(bias));
        LinearAdapter a = adapter;
        return a != null && a.covers(weight) ? y.add(a.delta(weight, x)) : y;
    }

    /** Removes (and closes) every parameter whose name matches, e.g. an adapter's tensors after merging it. */
    public void removeIf(java.util.function.Predicate<String> names) {
        params.entrySet().removeIf(e -> {
            if (names.test(e.getKey())) {
                e.getValue().close();
                return true;
            }
            return false;
        });
        version++;
    }

    public boolean contains(String name) {
        return params.containsKey(name);
    }

    public Map<String, NDArray> all() {
        return Collections.unmodifiableMap(params);
    }

    /** Bumped whenever a parameter is replaced or updated (caches of derived copies compare it). */
    public long version() {
        return version;
    }

    /** Records an in-place update of the values (the optimizer calls this after each step). */
    public void touch() {
        version++;
    }

    /** Freezes every parameter whose name starts with {@code prefix} (no gradient, no optimizer update). */
    public void freeze(String prefix) {
        frozenPrefixes.add(prefix);
    }

    public boolean isTrainable(String name) {
        for (String p : frozenPrefixes) {
            if (name.startsWith(p)) {
                return false;
            }
        }
        return true;
    }

    /** Marks every trainable parameter as requiring gradients (call once before training). */
    public void enableGradients() {
        params.forEach((name, a) -> a.setRequiresGradient(isTrainable(name)));
    }

    public long numel() {
        long n = 0;
        for (NDArray a : params.values()) {
            n += a.size();
        }
        return n;
    }

    @Override
    public void close() {
        manager.close();
    }
}
