package io.mm1j.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.mm1j.Mm1Exception;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Data-parallel training over several devices in one process ({@code train.devices}, {@code --devices}): each device
 * holds a replica of the model, takes a slice of every step's batch ({@link TrainLoop} cuts it), its gradients are
 * summed onto the first device's model (the master, which the optimizer updates), and the updated weights are
 * copied back to every replica. Since each slice's loss is already weighted by 1 / (trained tokens of the whole
 * step), the summed gradient is the whole batch's, and the update equals the one-device update (tested in float64
 * with two replicas on the CPU).
 *
 * <p>Replicas run one after the other on the training thread; on CUDA the kernel launches are asynchronous, so the
 * devices overlap as far as the host keeps up. The reduction and the broadcast go through
 * {@code toDevice} copies (no NCCL).
 */
public final class DataParallel implements AutoCloseable {
    private final Mm1Model master;
    private final List<Mm1Model> workers = new ArrayList<>(); // the models that run forward and backward
    private final List<NDManager> roots = new ArrayList<>(); // the managers of the working copies
    private final List<String> trainable = new ArrayList<>();

    /** Data parallel in FP32: the master is the first worker; replicas on {@code devices}. */
    public DataParallel(Mm1Model master, List<Device> devices, Function<NDManager, Mm1Model> build) {
        this(master, devices, build, null);
    }

    /**
     * @param master  the model the optimizer updates; its device is the first
     * @param devices the devices of the other replicas (the master's is not listed)
     * @param build   builds a model of the master's structure (the same components, adapters and frozen parts,
     *                gradients enabled) in a root manager, in the dtype given; its weights are then overwritten
     *                with the master's
     * @param compute null: the master computes in its own dtype and is the first worker; BF16/FP16
     *                ({@link MixedPrecision}): a working copy in that type on the master's device too, and the
     *                master only holds the FP32 weights, gradients and optimizer state
     */
    public DataParallel(Mm1Model master, List<Device> devices, Function<NDManager, Mm1Model> build,
                        ai.djl.ndarray.types.DataType compute) {
        this.master = master;
        Map<String, NDArray> mp = master.params().all();
        mp.forEach((name, a) -> {
            if (a.hasGradient()) {
                trainable.add(name);
            }
        });
        List<Device> copies = new ArrayList<>();
        if (compute == null) {
            workers.add(master);
        } else {
            copies.add(mp.values().iterator().next().getDevice());
            defineGradients(master);
        }
        copies.addAll(devices);
        try {
            for (Device d : copies) {
                // (not Engines.newRootManager: that would re-seed the engine in the middle of a run)
                NDManager root = ai.djl.engine.Engine.getEngine("PyTorch").newBaseManager(Engines.checkDevice(d));
                roots.add(root);
                Mm1Model r = build.apply(root);
                workers.add(r);
                Map<String, NDArray> rp = r.params().all();
                if (!rp.keySet().equals(mp.keySet())) {
                    throw new Mm1Exception("data parallel: the replica on " + d + " has other parameters than the "
                            + "master (" + rp.size() + " vs " + mp.size() + ")");
                }
            }
            broadcast();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * A backward of 0·Σ params, so that every trainable parameter of a model that never runs a backward itself
     * (the FP32 master under mixed precision) has a gradient tensor to sum into (DJL hands out a detached zero
     * tensor for a parameter whose gradient is still undefined).
     */
    private static void defineGradients(Mm1Model m) {
        try (NDScope scope = new NDScope();
             ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getEngine("PyTorch")
                     .newGradientCollector()) {
            NDArray total = null;
            for (NDArray a : m.params().all().values()) {
                if (a.hasGradient()) {
                    NDArray s = a.sum();
                    total = total == null ? s : total.add(s);
                }
            }
            if (total != null) {
                gc.backward(total.mul(m.params().scalar(0)));
            }
            scope.suppressNotUsedWarning();
        }
    }

    /** The models that run forward and backward, one per device. */
    public int size() {
        return workers.size();
    }

    /** Worker {@code i}: the master itself (FP32 data parallel, i = 0) or a working copy. */
    public Mm1Model replica(int i) {
        return workers.get(i);
    }

    /** The model the optimizer updates. */
    public Mm1Model master() {
        return master;
    }

    /** Adds every working copy's gradients (converted to the master's dtype) to the master's, then zeroes them. */
    public void reduceGradients() {
        Map<String, NDArray> mp = master.params().all();
        Device home = mp.values().iterator().next().getDevice();
        for (Mm1Model w : workers) {
            if (w == master) {
                continue;
            }
            Map<String, NDArray> rp = w.params().all();
            for (String name : trainable) {
                try (NDScope scope = new NDScope()) {
                    NDArray m = mp.get(name);
                    NDArray g = rp.get(name).getGradient();
                    m.getGradient().addi(g.toDevice(home, false).toType(m.getDataType(), false));
                    JniUtils.zeroGrad((PtNDArray) rp.get(name));
                    scope.suppressNotUsedWarning();
                }
            }
        }
    }

    /**
     * Copies the master's weights into every working copy in place (rounded to its dtype; the copies' arrays keep
     * their identity).
     */
    public void broadcast() {
        Map<String, NDArray> mp = master.params().all();
        for (Mm1Model w : workers) {
            if (w == master) {
                continue;
            }
            for (Map.Entry<String, NDArray> e : w.params().all().entrySet()) {
                try (NDScope scope = new NDScope()) {
                    NDArray dst = e.getValue();
                    NDArray src = mp.get(e.getKey()).toDevice(dst.getDevice(), false)
                            .toType(dst.getDataType(), false);
                    dst.subi(dst).addi(src); // x − x = +0 exactly, then + src: an exact in-place copy (−0 becomes +0)
                    scope.suppressNotUsedWarning();
                }
            }
            w.params().touch();
        }
    }

    /** Closes the working copies (not the master). */
    @Override
    public void close() {
        for (int i = workers.size() - 1; i >= 0; i--) {
            if (workers.get(i) != master) {
                workers.remove(i).close();
            }
        }
        roots.forEach(NDManager::close);
        roots.clear();
    }
}
