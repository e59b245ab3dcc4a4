package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.Mm1Exception;
import io.mm1j.io.OutputDir;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.train.Lora;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 merge-lora}: folds a PEFT LoRA adapter into its base model and writes an ordinary model folder. */
@Command(name = "merge-lora", mixinStandardHelpOptions = true,
        description = "Merge a LoRA adapter (PEFT layout: adapter_config.json + adapter_model.safetensors) into its "
                + "base model: W ← W + (alpha/r)·B·A; writes a model folder.")
public final class MergeLoraCommand implements Callable<Integer> {
    /** Files of the base folder carried over to the merged one (tokenizer and chat template). */
    static final List<String> CARRIED = List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
            "chat_template.json");

    @Option(names = "--model", required = true, description = "Base model folder (or run folder).")
    Path model;

    @Option(names = "--adapter", required = true, description = "Adapter folder (e.g. runs/NAME/adapter).")
    Path adapter;

    @Option(names = "--out", required = true, description = "Folder for the merged model.")
    Path out;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder.")
    boolean overwrite;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() {
        device.use();
        Path dir = Mm1Model.resolveFolder(model);
        OutputDir.refuseOverInput(out, "--out", model, "--model");
        OutputDir.refuseOverInput(out, "--out", dir, "--model"); // the model folder of a run folder, read
        OutputDir.refuseOverInput(out, "--out", adapter, "--adapter");
        OutputDir.checkWritable(out, overwrite, "--out");
        try (NDManager root = Engines.newRootManager(0);
             Mm1Model m = Mm1Model.load(dir, root, DataType.FLOAT32)) {
            Lora lora = Lora.load(m, adapter);
            String what = lora.describe();
            lora.merge();
            try (OutputDir o = OutputDir.create(out, overwrite, "--out")) {
                m.save(o.staging());
                for (String f : CARRIED) {
                    if (Files.isRegularFile(dir.resolve(f))) {
                        Files.copy(dir.resolve(f), o.staging().resolve(f));
                    }
                }
                o.commit();
            } catch (IOException e) {
                throw new Mm1Exception(out + ": cannot write: " + e.getMessage(), e);
            }
            System.out.println("merged " + what);
            System.out.println("model: " + out);
        }
        return 0;
    }
}
