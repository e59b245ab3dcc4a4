package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Decoder;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.mm1j.mllm.ImagePipeline;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.RgbImage;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.Sampler;
import io.mm1j.Mm1Exception;
import io.mm1j.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 generate}: text from a model folder; prints only the generated text on stdout. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text with a model folder (mm1j or HF Llama format: config.json, "
                + "model.safetensors, tokenizer.json). Starts from BOS; prints only the generated text. Images fill the "
                + "prompt's <image> slots in order.")
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model folder.")
    Path model;

    @Option(names = "--prompt", defaultValue = "", description = "Prompt text (may be empty).")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "128", description = "Tokens to generate at most (default "
            + "${DEFAULT-VALUE}; lowered, with a note, to what the model's context leaves after the prompt).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-p", defaultValue = "0.9", description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--image", description = "Image file for the next <image> slot of the prompt (repeatable, in "
            + "order).")
    List<Path> images = new ArrayList<>();

    @Option(names = "--max-pixels", defaultValue = "89478485", description = "Refuse images whose header claims "
            + "more pixels than this (default ${DEFAULT-VALUE}).")
    long maxPixels;

    @Option(names = "--decode", defaultValue = "cpu", description = "Decode path: cpu (plain Java where the model "
            + "allows: dense, float32, on the CPU) or djl (libtorch) (default ${DEFAULT-VALUE}).")
    String decode;

    @picocli.CommandLine.Mixin
    DeviceOption device;

    @Override
    public Integer call() {
        checkOptions();
        Sampler sampler = Sampler.of(temperature, topP, seed);
        DecodePath path = DecodePath.of(decode);
        model = Mm1Model.resolveFolder(model); // a model folder, or a run folder's model/ or newest checkpoint
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (NDManager root = device.root((int) seed);
             Tokenizer tok = Tokenizer.load(model.resolve("tokenizer.json"));
             Mm1Model mm = Mm1Model.load(model, root, DataType.FLOAT32)) {
            if (images.isEmpty() && !prompt.contains(SpecialTokens.IMAGE)) {
                long[] ids = mm.promptIds(tok, prompt, List.of()); // BOS as the model's folder says
                stream(mm.decoder(), tok, ids, null, fitToContext(ids.length, mm.config().llm().maxPositions()),
                        sampler, path, out::print);
            } else {
                generateWithImages(mm, tok, root, sampler, path, out);
            }
            out.println();
        }
        return 0;
    }

    /** Options that no model can make valid; NaN passes every {@code <} comparison, so it is tested for. */
    private void checkOptions() {
        if (maxTokens < 0) {
            throw new Mm1Exception("--max-tokens must be >= 0, got " + maxTokens);
        }
        if (!Double.isFinite(temperature) || temperature < 0) {
            throw new Mm1Exception("--temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new Mm1Exception("--top-p must be within (0, 1], got " + topP);
        }
        if (maxPixels < 1) {
            throw new Mm1Exception("--max-pixels must be positive, got " + maxPixels);
        }
    }

    /**
     * {@code --max-tokens}, lowered to what the context leaves after the prompt (with a note on stderr): the default
     * of 128 must not make every small model fail.
     */
    private int fitToContext(int promptTokens, int maxPositions) {
        int room = maxPositions - promptTokens;
        if (room < 1) {
            throw new Mm1Exception("the prompt takes " + promptTokens + " tokens; the model's context is "
                    + maxPositions + " positions, which leaves no room to generate");
        }
        if (maxTokens <= room) {
            return maxTokens;
        }
        System.err.println("mm1: note: --max-tokens " + maxTokens + " capped to " + room + ": the model's context is "
                + maxPositions + " positions and the prompt takes " + promptTokens);
        return room;
    }

    /**
     * Every {@code <image>} becomes as many placeholder positions as the model's image pipeline gives that picture
     * (MM1: k connector tokens; LLaVA-NeXT: a count that depends on the picture's size), filled with its tokens.
     */
    private void generateWithImages(Mm1Model mm, Tokenizer tok, NDManager root, Sampler sampler, DecodePath path,
                                    PrintStream out) {
        if (!mm.isMultimodal()) {
            throw new Mm1Exception(model + ": text-only model; it cannot take --image or <image> slots");
        }
        int imageId = mm.imageTokenId(tok);
        int slots = 0;
        for (long id : tok.encode(prompt)) {
            slots += id == imageId ? 1 : 0;
        }
        if (slots != images.size()) {
            throw new Mm1Exception("prompt has " + slots + " <image> slot(s) but " + images.size()
                    + " --image file(s) were given");
        }
        ImageIoLoader loader = new ImageIoLoader(maxPixels);
        ImagePipeline pipeline = mm.imagePipeline();
        List<ImagePipeline.Prepared> prepared = new ArrayList<>();
        for (Path p : images) {
            prepared.add(pipeline.prepare(loader.load(p), root));
        }
        long[] ids = mm.promptIds(tok, prompt, prepared);
        NDArray embeds = mm.inputEmbeddings(root.create(ids, new Shape(1, ids.length)), prepared, imageId);
        stream(mm.decoder(), tok, ids, embeds, fitToContext(ids.length, mm.config().llm().maxPositions()), sampler,
                path, out::print);
    }

    /** Encodes BOS + prompt, generates, and streams decoded text pieces to {@code sink}. */
    public static String generate(Decoder decoder, Tokenizer tok, String prompt, int maxTokens, Sampler sampler,
                                  java.util.function.Consumer<String> sink) {
        return stream(decoder, tok, promptIds(decoder, tok, prompt), null, maxTokens, sampler, DecodePath.CPU, sink);
    }

    /** BOS followed by the prompt's tokens. */
    private static long[] promptIds(Decoder decoder, Tokenizer tok, String prompt) {
        long[] body = prompt.isEmpty() ? new long[0] : tok.encode(prompt);
        long[] ids = new long[body.length + 1];
        ids[0] = decoder.config().bosTokenId();
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }

    /** {@link #stream} on the default (CPU) decode path. */
    static String stream(Decoder decoder, Tokenizer tok, long[] ids, NDArray embeds, int maxTokens, Sampler sampler,
                         java.util.function.Consumer<String> sink) {
        return stream(decoder, tok, ids, embeds, maxTokens, sampler, DecodePath.CPU, sink);
    }

    /** Generates from prompt ids (and optional prompt embeddings), streaming decoded text to {@code sink}. */
    static String stream(Decoder decoder, Tokenizer tok, long[] ids, NDArray embeds, int maxTokens, Sampler sampler,
                         DecodePath path, java.util.function.Consumer<String> sink) {
        List<Long> generated = new ArrayList<>();
        StringBuilder printed = new StringBuilder();
        Set<Integer> stop = decoder.config().stopIds();
        new Generator(decoder, path).generate(ids, embeds, maxTokens, sampler, stop, id -> {
            generated.add((long) id);
            String full = tok.decode(generated.stream().mapToLong(Long::longValue).toArray());
            // Print only the new suffix once it is stable (a byte-fallback UTF-8 sequence may still be incomplete).
            if (full.startsWith(printed.toString()) && !full.endsWith("\uFFFD")) {
                sink.accept(full.substring(printed.length()));
                printed.setLength(0);
                printed.append(full);
            }
        });
        String full = tok.decode(generated.stream().mapToLong(Long::longValue).toArray());
        if (!full.equals(printed.toString()) && full.startsWith(printed.toString())) {
            sink.accept(full.substring(printed.length()));
        }
        return full;
    }
}
