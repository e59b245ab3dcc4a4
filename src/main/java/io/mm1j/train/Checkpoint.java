package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.data.MixtureSampler;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.OutputDir;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.SafeTensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A resumable training checkpoint, {@code checkpoints/step-N/} (DESIGN.md "Run folders"): {@code model.safetensors}
 * + {@code config.json} (a loadable model folder), {@code optimizer.safetensors} (AdamW moments), and
 * {@code state.json} (optimizer step, data cursor, best validation loss, and the run config it was made with).
 *
 * <p>A checkpoint is written into a hidden staging folder and renamed into place, so a kill -9 while writing leaves
 * the previous checkpoint valid and no half-written {@code step-N}. Only the newest {@code keep} are kept.
 */
public final class Checkpoint {
    static final String PREFIX = "step-";

    /** What {@code state.json} holds. */
    public record State(long step, long optimizerStep, MixtureSampler.Cursor cursor, double bestValLoss,
                        JsonNode config) {}

    private Checkpoint() {}

    /** Writes {@code checkpoints/step-N/} atomically and prunes older ones beyond {@code keep}. */
    public static Path write(Path checkpoints, Mm1Model model, Optimizer opt, State state, int keep, Path tokenizer) {
        return write(checkpoints, dir -> {
            model.save(dir);
            if (model.params().adapter() instanceof Lora lora) { // LoRA: the base above, the adapter in adapter/
                lora.save(dir.resolve("adapter"), model.config().name());
            }
        }, opt, state, keep, tokenizer); // a checkpoint is a complete model folder too (tokenizer beside)
    }

    /**
     * The same contract for any trained model ({@code mm1 clip}'s encoder with its text tower or AIM head):
     * {@code saveModel} writes the weights and config into the staging folder; the tokenizer, optimizer moments,
     * {@code state.json}, staging and pruning are as in {@link #write(Path, Mm1Model, Optimizer, State, int, Path)}.
     */
    public static Path write(Path checkpoints, java.util.function.Consumer<Path> saveModel, Optimizer opt, State state,
                             int keep, Path tokenizer) {
        Path target = checkpoints.resolve(PREFIX + state.step());
        try (OutputDir out = OutputDir.create(target, true, "checkpoint")) {
            saveModel.accept(out.staging());
            Files.copy(tokenizer, out.staging().resolve("tokenizer.json"));
            writeOptimizerAndState(out.staging(), opt.state(), state);
            out.commit();
        } catch (IOException e) {
            throw new Mm1Exception(target + ": cannot write checkpoint: " + e.getMessage(), e);
        }
        prune(checkpoints, keep);
        return target;
    }

    /** {@code optimizer.safetensors} (moments by name, float32) and {@code state.json} into {@code dir}. */
    static void writeOptimizerAndState(Path dir, Map<String, NDArray> moments, State state) {
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        for (Map.Entry<String, NDArray> e : moments.entrySet()) {
            NDArray a = e.getValue();
            w.add(SafeTensorsWriter.Tensor.f32(e.getKey(), a.getShape().getShape(),
                    a.toType(DataType.FLOAT32, false).toFloatArray()));
        }
        w.write(dir.resolve("optimizer.safetensors"));
        ObjectNode s = RunConfig.JSON.createObjectNode();
        s.put("step", state.step());
        s.put("optimizerStep", state.optimizerStep());
        s.set("cursor", RunConfig.JSON.valueToTree(state.cursor()));
        s.put("bestValLoss", state.bestValLoss());
        s.set("config", state.config());
        AtomicFiles.writeString(dir.resolve("state.json"), s.toPrettyString());
    }

    /** The newest checkpoint of run folder {@code runDir} for {@code --resume}; refused when there is none. */
    public static Path forResume(Path runDir) {
        Path ckpt = latest(runDir.resolve("checkpoints"));
        if (ckpt == null) {
            throw new Mm1Exception("--resume: " + runDir + " has no checkpoint to resume from (a run stopped "
                    + "before its first checkpoint starts again with --overwrite instead of --resume)");
        }
        return ckpt;
    }

    /** The newest complete checkpoint folder, or null when there is none. */
    public static Path latest(Path checkpoints) {
        List<Path> all = list(checkpoints);
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    /** Complete checkpoints ({@code step-N} with a state.json), oldest first. */
    static List<Path> list(Path checkpoints) {
        if (!Files.isDirectory(checkpoints)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(checkpoints)) {
            return new ArrayList<>(s.filter(p -> p.getFileName().toString().matches(PREFIX + "\\d+"))
                    .filter(p -> Files.isRegularFile(p.resolve("state.json")))
                    .sorted(Comparator.comparingLong(Checkpoint::stepOf)).toList());
        } catch (IOException e) {
            throw new Mm1Exception(checkpoints + ": cannot list: " + e.getMessage(), e);
        }
    }

    static long stepOf(Path dir) {
        return Long.parseLong(dir.getFileName().toString().substring(PREFIX.length()));
    }

    private static void prune(Path checkpoints, int keep) {
        // staging folders of a process killed while writing (kill -9): never complete, never read, so removed
        String mine = ".tmp-" + ProcessHandle.current().pid();
        try (Stream<Path> s = Files.list(checkpoints)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith("." + PREFIX)
                    && !p.getFileName().toString().endsWith(mine)).toList()) {
                OutputDir.deleteTree(p);
            }
        } catch (IOException e) {
            throw new Mm1Exception(checkpoints + ": cannot remove stale staging folders: " + e.getMessage(), e);
        }
        List<Path> all = list(checkpoints);
        for (int i = 0; i < all.size() - keep; i++) {
            try {
                OutputDir.deleteTree(all.get(i));
            } catch (IOException e) {
                throw new Mm1Exception(all.get(i) + ": cannot delete an old checkpoint: " + e.getMessage(), e);
            }
        }
    }

    /** Reads {@code state.json}. */
    public static State readState(Path dir) {
        Path f = dir.resolve("state.json");
        try {
            JsonNode n = RunConfig.JSON.readTree(f.toFile());
            MixtureSampler.Cursor c = RunConfig.JSON.treeToValue(n.get("cursor"), MixtureSampler.Cursor.class);
            long step = n.get("step").asLong();
            long optimizerStep = n.get("optimizerStep").asLong();
            String name = dir.getFileName() == null ? "" : dir.getFileName().toString();
            if (name.startsWith(PREFIX) && !name.equals(PREFIX + step)) {
                throw new IllegalArgumentException("'step' is " + step + " in folder " + name);
            }
            if (step < 0 || optimizerStep < 0 || optimizerStep > step) {
                throw new IllegalArgumentException("'step' " + step + " and 'optimizerStep' " + optimizerStep
                        + " must satisfy 0 <= optimizerStep <= step");
            }
            return new State(step, optimizerStep, c, n.path("bestValLoss").asDouble(Double.NaN), n.get("config"));
        } catch (IOException | RuntimeException e) {
            // one line: Jackson's own message carries a second "at [Source: …]" line
            String why = e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage()
                    : e instanceof NullPointerException ? "a field is missing" : String.valueOf(e.getMessage());
            throw new Mm1Exception(f + ": not a valid checkpoint state (" + why.lines().findFirst().orElse("") + ")",
                    e);
        }
    }

    /** Loads the model of a checkpoint folder. */
    public static Mm1Model loadModel(Path dir, NDManager manager) {
        Mm1Model m = Mm1Model.load(dir, manager, DataType.FLOAT32);
        try {
            checkFinite(m, dir);
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * Refuses weights holding NaN or ∞ (a corrupt file, or a run saved after it diverged): training from them would
     * only log NaN losses.
     */
    public static void checkFinite(Mm1Model m, Path dir) {
        checkFinite(m.params().all(), dir, name -> true);
    }

    /** {@link #checkFinite(Mm1Model, Path)} for the weights of {@code params} whose names {@code which} accepts. */
    public static void checkFinite(java.util.Map<String, ai.djl.ndarray.NDArray> params, Path dir,
                                   java.util.function.Predicate<String> which) {
        for (java.util.Map.Entry<String, ai.djl.ndarray.NDArray> e : params.entrySet()) {
            if (!which.test(e.getKey())) {
                continue;
            }
            boolean nonFinite;
            try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) { // the masks are freed here
                ai.djl.ndarray.NDArray x = e.getValue();
                nonFinite = x.isNaN().logicalOr(x.isInfinite()).any().getBoolean();
                scope.suppressNotUsedWarning();
            }
            if (nonFinite) {
                throw new io.mm1j.Mm1Exception(dir + ": weight '" + e.getKey() + "' holds NaN or infinite values "
                        + "(a corrupt file, or a model saved after training diverged)");
            }
        }
    }

    /** The same for optimizer state read from {@code where}: every value finite (second moments also ≥ 0). */
    static void checkFinite(float[] data, String where, String name, boolean nonNegative) {
        for (int i = 0; i < data.length; i++) {
            if (!Float.isFinite(data[i]) || (nonNegative && data[i] < 0)) {
                throw new io.mm1j.Mm1Exception(where + ": optimizer state '" + name + "' holds " + data[i]
                        + " at index " + i + " (the file is corrupt)");
            }
        }
    }

    /** Restores the optimizer moments and step count of a checkpoint into {@code opt}. */
    public static void loadOptimizer(Path dir, Optimizer opt, long optimizerStep) {
        Path f = dir.resolve("optimizer.safetensors");
        try (SafeTensors st = SafeTensors.open(f)) {
            opt.load(name -> st.entries().containsKey(name) ? st.floats(name) : null, optimizerStep, f.toString());
        }
    }
}
