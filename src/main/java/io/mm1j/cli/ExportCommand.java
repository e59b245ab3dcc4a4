package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.Mm1Exception;
import io.mm1j.io.OutputDir;
import io.mm1j.llava.Llava;
import io.mm1j.llava.LlavaExport;
import io.mm1j.mllm.HfExport;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 export}: a model folder written in another ecosystem's format. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a model in another format: --format llava gives a Hugging Face LLaVA folder "
                + "(LlavaForConditionalGeneration; transformers, vLLM, llama.cpp) for mm1j models with an MLP "
                + "connector and for models loaded from LLaVA folders; --format hf gives any mm1j model as "
                + "Hugging Face parts: the LLM as LlamaForCausalLM / MixtralForCausalLM, the encoder as "
                + "CLIPVisionModel, the connector's tensors and mm1_config.json (--model reads the folder back).")
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model folder or run folder.")
    Path model;

    @Option(names = "--format", required = true, description = "Target format: llava or hf.")
    String format;

    @Option(names = "--out", required = true, description = "Output folder (created; must be absent or empty "
            + "unless --overwrite).")
    Path out;

    @Option(names = "--layout", defaultValue = "legacy", description = "LLaVA key layout: legacy "
            + "(language_model.model.*, read by every transformers version and converter) or new "
            + "(model.language_model.*, transformers >= 4.52) (default ${DEFAULT-VALUE}).")
    String layout;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder (only once the export is "
            + "complete).")
    boolean overwrite;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() {
        device.use();
        if (format.equals("hf")) {
            return exportHf();
        }
        if (!format.equals("llava")) {
            throw new Mm1Exception("--format must be llava or hf, got '" + format + "'");
        }
        Llava.Layout keys = switch (layout) {
            case "legacy" -> Llava.Layout.LEGACY;
            case "new" -> Llava.Layout.NEW;
            default -> throw new Mm1Exception("--layout must be legacy or new, got '" + layout + "'");
        };
        Path dir = Mm1Model.resolveFolder(model);
        OutputDir.refuseOverInput(out, "--out", model, "--model");
        OutputDir.refuseOverInput(out, "--out", dir, "--model"); // the model folder of a run folder, read
        OutputDir.checkWritable(out, overwrite, "--out");
        try (NDManager root = Engines.newRootManager(0);
             Mm1Model mm = Mm1Model.load(dir, root, DataType.FLOAT32);
             OutputDir target = OutputDir.create(out, overwrite, "--out")) {
            String arch = LlavaExport.write(mm, dir, target.staging(), keys);
            target.commit();
            System.out.println("wrote " + out + " (" + mm.config().name() + " as " + arch + ", "
                    + keys.name().toLowerCase(Locale.ROOT) + " key layout)");
        }
        return 0;
    }

    /** {@code --format hf}: LLM, CLIP vision tower and connector as Hugging Face parts ({@link HfExport}). */
    private int exportHf() {
        Path dir = Mm1Model.resolveFolder(model);
        OutputDir.refuseOverInput(out, "--out", model, "--model");
        OutputDir.refuseOverInput(out, "--out", dir, "--model"); // the model folder of a run folder, read
        OutputDir.checkWritable(out, overwrite, "--out");
        try (NDManager root = Engines.newRootManager(0);
             Mm1Model mm = Mm1Model.load(dir, root, DataType.FLOAT32);
             OutputDir target = OutputDir.create(out, overwrite, "--out")) {
            String arch = HfExport.write(mm, dir, target.staging());
            target.commit();
            System.out.println("wrote " + out + " (" + mm.config().name() + ": the LLM as " + arch
                    + (mm.isMultimodal() ? ", vision_tower/ as CLIPVisionModel, connector/ and " + HfExport.FILE
                    : ", " + HfExport.FILE) + ")");
        }
        return 0;
    }
}
