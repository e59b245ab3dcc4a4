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
    private final List<Mm1Model> replicas = new ArrayList<>(); // [0]: the master
    private final List<NDManager> roots = new ArrayList<>(); // the managers of replicas 1…
    private final List<String> trainable = new ArrayList<>();

    /**
     * @param master  the model the optimizer updates; its device is the first
     * @param devices the devices of replicas 1… (the master's is not listed)
     * @param build   builds a model of the master's structure (the same components, adapters and frozen parts,
     *                gradients enabled) in a root manager; its weights are then overwritten with the master's
     */
    public DataParallel(Mm1Model master, List<Device> devices, Function<NDManager, Mm1Model> build) {
        replicas.add(master);
        Map<String, NDArray> mp = master.params().all();
        mp.forEach((name, a) -> {
            if (a.hasGradient()) {
                trainable.add(name);
            }
        });
        try {
            for (Device d : devices) {
                // (not Engines.newRootManager: that would re-seed the engine in the middle of a run)
                NDManager root = ai.djl.engine.Engine.getEngine("PyTorch").newBaseManager(Engines.checkDevice(d));
                roots.add(root);
                Mm1Model r = build.apply(root);
                replicas.add(r);
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

    /** Replicas including the master (index 0). */
    public int size() {
        return replicas.size();
    }

    public Mm1Model replica(int i) {
        return replicas.get(i);
    }

    /** Adds every replica's gradients to the master's, then zeroes the replicas' gradients. */
    public void reduceGradients() {
        Map<String, NDArray> mp = replicas.get(0).params().all();
        Device home = mp.values().iterator().next().getDevice();
        for (int i = 1; i < replicas.size(); i++) {
            Map<String, NDArray> rp = replicas.get(i).params().all();
            for (String name : trainable) {
                try (NDScope scope = new NDScope()) {
                    NDArray g = rp.get(name).getGradient();
                    mp.get(name).getGradient().addi(g.toDevice(home, false));
                    JniUtils.zeroGrad((PtNDArray) rp.get(name));
                    scope.suppressNotUsedWarning();
                }
            }
        }
    }

    /** Copies the master's weights into every replica, in place (the replicas' arrays keep their identity). */
    public void broadcast() {
        Map<String, NDArray> mp = replicas.get(0).params().all();
        for (int i = 1; i < replicas.size(); i++) {
            Map<String, NDArray> rp = replicas.get(i).params().all();
            for (Map.Entry<String, NDArray> e : rp.entrySet()) {
                try (NDScope scope = new NDScope()) {
                    NDArray dst = e.getValue();
                    NDArray src = mp.get(e.getKey()).toDevice(dst.getDevice(), false);
                    dst.subi(dst).addi(src); // x − x = +0 exactly, then + src: an exact in-place copy (−0 becomes +0)
                    scope.suppressNotUsedWarning();
                }
            }
            replicas.get(i).params().touch();
        }
    }

    /** Closes the replicas (not the master). */
    @Override
    public void close() {
        for (int i = replicas.size() - 1; i >= 1; i--) {
            replicas.remove(i).close();
        }
        roots.forEach(NDManager::close);
        roots.clear();
    }
}
