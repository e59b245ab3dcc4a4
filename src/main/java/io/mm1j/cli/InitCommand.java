package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
import io.mm1j.io.OutputDir;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.Mm1Exception;
import io.mm1j.tokenizer.BpeTrainer;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code mm1 init}: a randomly initialised model folder (config.json, model.safetensors, tokenizer.json) that every
 * other command accepts.
 */
@Command(name = "init", mixinStandardHelpOptions = true,
        description = "Write a randomly initialised model folder for a preset (config.json, model.safetensors, "
                + "tokenizer.json).")
public final class InitCommand implements Callable<Integer> {
    @Option(names = "--preset", required = true, description = "Preset name (see mm1 info).")
    String preset;

    @Option(names = "--out", required = true, description = "Output folder (created; must be absent or empty "
            + "unless --overwrite).")
    Path out;

    @Option(names = "--overwrite", description = "Replace a non-empty --out folder (only once the new model is "
            + "complete).")
    boolean overwrite;

    @Option(names = "--seed", defaultValue = "0", description = "Initialisation seed (default ${DEFAULT-VALUE}).")
    int seed;

    @Option(names = "--tokenizer", description = "A tokenizer.json to use (default: a byte-level BPE trained on "
            + "mm1j's embedded text, with mm1j's special tokens).")
    Path tokenizer;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() throws IOException {
        device.use();
        Mm1Config cfg = write();
        System.out.println("wrote " + out + " (" + InfoCommand.human(ParamCount.all(cfg).get("total"))
                + " parameters, preset " + preset + ")");
        return 0;
    }

    /** A random model folder of {@code preset} at {@code out} (benchmarks that need a model folder), silently. */
    static void writeRandomModel(String preset, Path out, int seed) throws IOException {
        InitCommand c = new InitCommand();
        c.preset = preset;
        c.out = out;
        c.seed = seed;
        c.write();
    }

    private Mm1Config write() throws IOException {
        Mm1Config cfg = Presets.load(preset);
        OutputDir.checkWritable(out, overwrite, "--out"); // fail before minutes of work, not after
        long bytes = ParamCount.all(cfg).get("total") * 4;
        long physical = physicalMemory();
        if (physical > 0 && bytes > physical * 0.8) {
            throw new Mm1Exception(String.format(java.util.Locale.ROOT, "preset %s needs %.1f GiB for FP32 weights; "
                    + "this machine has %.1f GiB (use mm1 info for counts without allocating)", preset,
                    bytes / 1073741824.0, physical / 1073741824.0));
        }
        if (tokenizer != null) {
            checkTokenizer(tokenizer, cfg); // the user's file is named in any error, not the copy
        }
        // Built in a staging folder and renamed when complete: a failure (a bad tokenizer, a full disk) leaves
        // neither a half-made model folder nor a stray .tmp behind, and two runs on one --out cannot both succeed.
        try (OutputDir dir = OutputDir.create(out, overwrite, "--out")) {
            writeTokenizer(cfg, dir.staging().resolve("tokenizer.json"));
            writeTokenizerConfig(cfg, dir.staging().resolve("tokenizer_config.json"));
            try (NDManager root = Engines.newRootManager(seed);
                 Mm1Model model = Mm1Model.init(cfg, root, DataType.FLOAT32)) {
                model.save(dir.staging());
            }
            dir.commit();
        }
        return cfg;
    }

    private void writeTokenizer(Mm1Config cfg, Path target) throws IOException {
        if (tokenizer != null) {
            Files.copy(tokenizer, target, StandardCopyOption.REPLACE_EXISTING);
            return;
        }
        String text;
        try (InputStream in = InitCommand.class.getResourceAsStream("/demo/mm1_abstract.txt")) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        new BpeTrainer(cfg.llm().vocabSize(), 2).add(text).train().write(target);
        checkTokenizer(target, cfg);
    }

    /**
     * Hugging Face's {@code tokenizer_config.json}: the special tokens by name and mm1j's chat template, so that
     * {@code mm1 chat}/{@code serve} and HF's {@code apply_chat_template} render conversations the same way.
     */
    private static void writeTokenizerConfig(Mm1Config cfg, Path target) {
        com.fasterxml.jackson.databind.node.ObjectNode o = io.mm1j.io.JsonFiles.MAPPER.createObjectNode();
        o.put("tokenizer_class", "PreTrainedTokenizerFast");
        o.put("bos_token", SpecialTokens.BOS);
        o.put("eos_token", SpecialTokens.EOS);
        o.put("pad_token", SpecialTokens.PAD);
        o.put("model_max_length", cfg.llm().maxPositions());
        o.put("clean_up_tokenization_spaces", false);
        o.put("chat_template", io.mm1j.mllm.ChatTemplate.MM1J);
        try {
            io.mm1j.io.AtomicFiles.writeString(target, io.mm1j.io.JsonFiles.MAPPER.writerWithDefaultPrettyPrinter()
                    .writeValueAsString(o) + "\n");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** mm1j's special-token layout and a vocabulary that fits the preset's embedding table. */
    private void checkTokenizer(Path file, Mm1Config cfg) {
        try (Tokenizer tok = Tokenizer.load(file)) {
            SpecialTokens.verify(tok, cfg.llm().bosTokenId(), cfg.llm().eosTokenId());
            if (tok.vocabSize() > cfg.llm().vocabSize()) {
                throw new Mm1Exception(file + ": tokenizer has " + tok.vocabSize() + " ids but preset " + preset
                        + " has vocabSize " + cfg.llm().vocabSize());
            }
        }
    }

    private static long physicalMemory() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return -1;
    }
}
