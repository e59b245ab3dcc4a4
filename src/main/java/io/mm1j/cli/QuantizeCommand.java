package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import io.mm1j.io.OutputDir;
import io.mm1j.llm.Int8Matrix;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.QuantizedFolder;
import io.mm1j.tensor.Engines;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 quantize}: writes the int8 version of a model folder for fast, small CPU decoding. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Write an int8 copy of a model folder: the language model's weight matrices become int8 with "
                + "a float32 scale per group of columns (symmetric, as llama.cpp's Q8_0); norms, vision tower and "
                + "connector are copied unchanged, as are config and tokenizer. generate/chat/serve --model read it.")
public final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model folder (mm1j, HF Llama or LLaVA; or a run "
            + "folder).")
    Path model;

    @Option(names = "--out", required = true, description = "Folder for the int8 model.")
    Path out;

    @Option(names = "--group-size", defaultValue = "" + Int8Matrix.DEFAULT_GROUP, description = "Columns per scale "
            + "(default ${DEFAULT-VALUE}, as Q8_0; smaller keeps more precision, larger saves a little memory).")
    int groupSize;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder.")
    boolean overwrite;

    @Override
    public Integer call() {
        Path dir = Mm1Model.resolveFolder(model);
        OutputDir.refuseOverInput(out, "--out", model, "--model");
        OutputDir.refuseOverInput(out, "--out", dir, "--model"); // the model folder of a run folder, read
        OutputDir.checkWritable(out, overwrite, "--out");
        QuantizedFolder.Summary s;
        try (NDManager root = Engines.newRootManager(0);
             OutputDir o = OutputDir.create(out, overwrite, "--out")) {
            s = QuantizedFolder.write(dir, o.staging(), groupSize, root);
            o.commit();
        }
        System.out.printf("quantised %d weight matrices to int8 (group size %d), copied %d other tensors: "
                + "%.1f MB -> %.1f MB%n", s.quantized(), groupSize, s.copied(), s.bytesIn() / 1e6, s.bytesOut() / 1e6);
        System.out.println("copied files: " + String.join(", ", s.files()));
        if (!s.leftOut().isEmpty()) {
            System.out.println("left out: " + String.join(", ", s.leftOut()) + " (references of the float model; "
                    + "the int8 weights do not reproduce them)");
        }
        System.out.println("model: " + out);
        return 0;
    }
}
