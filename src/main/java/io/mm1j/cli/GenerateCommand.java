package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.Mm1Exception;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.Quantization;
import io.mm1j.mllm.GenerationConfig;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.Prompt;
import io.mm1j.mllm.PromptBuilder;
import io.mm1j.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mm1 generate}: text from a model folder; prints only the generated text on stdout. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text with a model folder (mm1j or HF Llama format: config.json, "
                + "model.safetensors, tokenizer.json). Starts from BOS; prints only the generated text. Images fill the "
                + "prompt's <image> slots in order. (For a conversation through the model's chat template: mm1 chat.)")
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model folder.")
    Path model;

    @Option(names = "--prompt", defaultValue = "", description = "Prompt text (may be empty); each <image> is one "
            + "image slot.")
    String prompt;

    @Option(names = "--adapter", description = "A LoRA adapter folder (PEFT layout, e.g. runs/NAME/adapter) applied "
            + "on top of --model, unmerged (as PEFT); mm1 merge-lora folds it in for the fast CPU decode path.")
    Path adapter;

    @Mixin
    GenerationOptions gen;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() {
        gen.check();
        DecodePath path = gen.path();
        model = Mm1Model.resolveFolder(model); // a model folder, or a run folder's model/ or newest checkpoint
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (NDManager root = device.root((int) gen.seed);
             Tokenizer tok = Tokenizer.load(model.resolve("tokenizer.json"));
             Mm1Model mm = Mm1Model.load(model, root, DataType.FLOAT32)) {
            if (adapter != null) {
                if (gen.quantization() != Quantization.NONE) {
                    throw new Mm1Exception("--quantize with --adapter: the CPU decode path does not apply adapters; "
                            + "merge it first (mm1 merge-lora), then quantise");
                }
                io.mm1j.train.Lora.load(mm, adapter);
            }
            gen.quantization().apply(mm.decoder());
            if (!mm.isMultimodal() && !gen.images.isEmpty()) { // '<image>' in the prompt is text to this model
                throw new Mm1Exception(model + ": text-only model; it cannot take --image");
            }
            Prompt p = new PromptBuilder(mm, tok).fromText(prompt, gen.loadImages());
            GenerationConfig cfg = gen.config(gen.fitToContext(p.length(), mm.config().llm().maxPositions()));
            new Generator(mm, tok, path).generate(p, cfg, (id, text) -> {
                out.print(text);
                return true;
            });
            out.println();
        }
        return 0;
    }

    /**
     * BOS + {@code prompt} on a bare decoder (a text-only model), greedy or as {@code cfg} says, streaming text
     * pieces to {@code sink}; returns the text.
     */
    public static String generate(Decoder decoder, Tokenizer tok, String prompt, GenerationConfig cfg,
                                  Consumer<String> sink) {
        Mm1Model mm = Mm1Model.textOnly(decoder);
        Prompt p = new PromptBuilder(mm, tok).fromText(prompt, List.of());
        return new Generator(mm, tok, DecodePath.CPU).generate(p, cfg, (id, text) -> {
            sink.accept(text);
            return true;
        }).text();
    }
}
