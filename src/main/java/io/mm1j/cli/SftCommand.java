package io.mm1j.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.data.LlavaReader;
import io.mm1j.data.SkipReport;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.train.Lora;
import io.mm1j.train.Pretrainer;
import io.mm1j.train.RunConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code mm1 sft}: supervised fine-tuning (MM1 §3.4) of a pre-trained model on LLaVA-format conversations, laid out
 * by the model's chat template with the loss on assistant tokens only; optionally with LoRA adapters and
 * high-resolution tiling. The run folder, checkpoints, resume, metrics and plots are {@code pretrain}'s.
 */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = "Supervised fine-tuning on LLaVA-format conversations (chat template, loss on assistant "
                + "tokens; AdaFactor by default; --lora for adapters; --high-res for MM1's sub-image tiling).")
public final class SftCommand implements Callable<Integer> {
    @Option(names = "--config", description = "Run config JSON (the keys of pretrain's, with sft's defaults: "
            + "optim.name=adafactor, optim.lr=1e-5, no warm-up).")
    Path config;

    @Option(names = "--init", description = "The pre-trained model folder or run folder to fine-tune (required for a "
            + "new run).")
    Path init;

    @Option(names = "--data", description = "LLaVA-format conversations JSON (sets data.sources).")
    Path data;

    @Option(names = "--images", description = "Folder the conversations' image names are relative to.")
    Path images;




    @Option(names = "--lora", description = "LoRA adapters instead of full fine-tuning: "
            + "rank=R,alpha=A,dropout=D,targets=q_proj,k_proj,v_proj,o_proj,… (module names of the LLM, connector or "
            + "encoder; base weights frozen; train.freeze and train.lr_multipliers of a component apply to the "
            + "adapters on its layers).")
    String lora;

    @Option(names = "--high-res", negatable = true, description = "MM1's high-resolution mode: 2×2 sub-images plus "
            + "an overview per picture (5 × k image tokens); --no-high-res turns it off for a tiled model.")
    Boolean highRes;

    @Option(names = "--crop", description = "With --high-res (required): sub-image size in pixels; the encoder's "
            + "position embeddings (and the C-Abstractor's) are interpolated to its patch grid (default: the "
            + "encoder's resolution).")
    Integer crop;

    @Option(names = "--template", description = "Chat template: a model folder or a Jinja file (default: the "
            + "--init model's, else mm1j's).")
    Path template;





    @Mixin
    RunOptions run;

    @Mixin
    DeviceOption device;

    @Mixin
    TrainDevicesOption trainDevices;

    @Override
    public Integer call() {
        device.use();
        Map<String, String> shorthand = new LinkedHashMap<>();
        trainDevices.addTo(shorthand);
        Path base = run.base(config);
        Path initDir = null;
        if (init != null) {
            initDir = Mm1Model.resolveFolder(init);
            Path tok = initDir.resolve("tokenizer.json");
            if (!Files.isRegularFile(tok)) {
                throw new Mm1Exception("--init " + init + ": " + tok + " not found (a model folder needs its "
                        + "tokenizer.json)");
            }
            shorthand.put("tokenizer", quote(tok.toAbsolutePath().normalize().toString()));
        } else if (!run.resume) {
            throw new Mm1Exception("--init is required: the pre-trained model folder (or run folder) to fine-tune");
        }
        if (data != null) {
            ArrayNode src = RunConfig.JSON_MAPPER.createArrayNode();
            ObjectNode s = src.addObject().put("name", "sft").put("format", "llava")
                    .put("path", data.toAbsolutePath().normalize().toString());
            if (images != null) {
                s.put("images", images.toAbsolutePath().normalize().toString());
            }
            shorthand.put("data.sources", src.toString());
        } else if (images != null) {
            throw new Mm1Exception("--images needs --data (the conversations JSON)");
        }
        shorthand.putAll(run.shorthand(null));
        if (lora != null) {
            shorthand.put("lora", Lora.Config.parse(lora).toJson().toString());
        }
        if (highRes != null) {
            shorthand.put("model.high_res.enabled", highRes.toString());
        }
        if (crop != null) {
            shorthand.put("model.high_res.crop", crop.toString());
        }
        if (template != null) {
            shorthand.put("sft.template", quote(template.toAbsolutePath().normalize().toString()));
        } else if (initDir != null) { // recorded in run.json, so a resumed run lays conversations out the same way
            shorthand.put("sft.template", quote(initDir.toAbsolutePath().normalize().toString()));
        }
        RunConfig rc = RunConfig.resolve(defaults(), base, shorthand, run.sets);
        if (initDir != null) {
            // any folder pretrain --init and generate load: mm1j, mm1 export's Hugging Face parts, LLaVA, a Llama
            int maxPos = Mm1Model.readConfig(initDir).llm().maxPositions();
            int asked = rc.integer("data.seq_len");
            if (asked > maxPos) { // rows longer than the model's context cannot train
                shorthand.put("data.seq_len", Integer.toString(maxPos));
                rc = RunConfig.resolve(defaults(), base, shorthand, run.sets);
                if (rc.integer("data.seq_len") == maxPos) { // a value set in --config or --set stays: pretrain refuses it
                    System.out.println("data.seq_len " + asked + " → " + maxPos + " (the --init model's "
                            + "max_position_embeddings)");
                }
            }
        }
        if (run.resume && init != null) {
            throw new Mm1Exception("--resume continues from the run's checkpoint; leave out --init");
        }
        if (rc.node("data.sources").isNull()) {
            throw new Mm1Exception("sft needs conversations: --data llava.json --images DIR, or data.sources in --config");
        }
        if (!run.resume) {
            checkConversations(rc); // bad conversations are refused before the run folder is made
        }
        Pretrainer.Result r = Pretrainer.run(new Pretrainer.Options(run.out, rc, run.resume, run.overwrite, initDir,
                run.stopAtStep()),
                new PretrainCommand.ConsoleProgress(rc.integer("train.log_interval")));
        System.out.println(io.mm1j.train.Pretrainer.outcome(r.complete(), r.step(), r.summary()));
        System.out.println("run folder: " + r.runDir());
        System.out.println("  metrics:  " + r.runDir().resolve("metrics.jsonl"));
        System.out.println("  plots:    " + r.runDir().resolve("plots"));
        if (r.summary().has("lora")) {
            System.out.println(r.complete() ? "  adapter:  " + r.runDir().resolve("adapter") + " (PEFT layout)" : "");
        }
        System.out.println(r.complete() ? "  model:    " + r.runDir().resolve("model")
                : "  resume:   ./mm1 sft --out " + run.out + " --resume");
        return 0;
    }

    /** sft's own defaults over pretrain's (src/main/resources/train/sft-defaults.json). */
    static ObjectNode defaults() {
        try (InputStream in = SftCommand.class.getResourceAsStream("/train/sft-defaults.json")) {
            return (ObjectNode) RunConfig.JSON_MAPPER.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException("sft-defaults.json missing from the jar", e);
        }
    }

    /** Reads every LLaVA source strictly: the first bad conversation ends the command with its file and field. */
    private static void checkConversations(RunConfig rc) {
        for (com.fasterxml.jackson.databind.JsonNode s : rc.node("data.sources")) {
            if (!s.path("format").asText().equals("llava")) {
                continue;
            }
            Path imgs = s.hasNonNull("images") ? Path.of(s.get("images").asText()) : null;
            try (LlavaReader r = new LlavaReader(Path.of(s.path("path").asText()), imgs, SkipReport.strict())) {
                while (r.hasNext()) {
                    r.next();
                }
            }
        }
    }

    private static String quote(String s) {
        return RunConfig.JSON_MAPPER.getNodeFactory().textNode(s).toString();
    }
}
