package io.mm1j.cli;

import io.mm1j.Mm1Exception;
import io.mm1j.llm.DecodePath;
import io.mm1j.llm.Quantization;
import io.mm1j.mllm.GenerationConfig;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.RgbImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The generation options {@code generate} and {@code chat} share (a picocli mixin). */
public final class GenerationOptions {
    @Option(names = "--max-tokens", defaultValue = "128", description = "Tokens to generate at most (default "
            + "${DEFAULT-VALUE}; lowered, with a note, to what the model's context leaves after the prompt).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "Softmax temperature; 0 = greedy (default "
            + "${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens; 0 = off "
            + "(default ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", description = "Nucleus sampling: the smallest set of tokens whose "
            + "probability reaches p; 1 = off (default ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--min-p", defaultValue = "0", description = "Drop tokens less likely than min-p times the most "
            + "likely one; 0 = off (default ${DEFAULT-VALUE}).")
    double minP;

    @Option(names = "--repetition-penalty", defaultValue = "1", description = "Divide positive logits (multiply "
            + "negative ones) of tokens already in the prompt or output by this; 1 = off (default ${DEFAULT-VALUE}).")
    double repetitionPenalty;

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--stop", description = "Stop before this text (repeatable; never printed, even in part).")
    List<String> stop = new ArrayList<>();

    @Option(names = "--image", description = "Image file (repeatable, in order): fills the prompt's <image> slots.")
    List<Path> images = new ArrayList<>();

    @Option(names = "--max-pixels", defaultValue = "89478485", description = "Refuse images whose header claims "
            + "more pixels than this (default ${DEFAULT-VALUE}).")
    long maxPixels;

    @Option(names = "--decode", defaultValue = "cpu", description = "Decode path: cpu (plain Java where the model "
            + "allows: dense, float32, on the CPU) or djl (libtorch) (default ${DEFAULT-VALUE}).")
    String decode;

    @Option(names = "--quantize", defaultValue = "none", description = "Weights for CPU decoding: none (as the "
            + "folder stores them) or int8 (quantised on load: int8 with a float32 scale per 32 columns, as llama.cpp's "
            + "Q8_0; a quarter of the bytes per decode step). A folder written by mm1 quantize is int8 already "
            + "(default ${DEFAULT-VALUE}).")
    String quantize;

    /** Checks every option (NaN passes every {@code <} comparison, so it is tested for). */
    void check() {
        if (maxTokens < 0) {
            throw new Mm1Exception("--max-tokens must be >= 0, got " + maxTokens);
        }
        if (!Double.isFinite(temperature) || temperature < 0) {
            throw new Mm1Exception("--temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK < 0) {
            throw new Mm1Exception("--top-k must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new Mm1Exception("--top-p must be within (0, 1], got " + topP);
        }
        if (!(minP >= 0 && minP < 1)) {
            throw new Mm1Exception("--min-p must be within [0, 1), got " + minP);
        }
        if (!Double.isFinite(repetitionPenalty) || repetitionPenalty <= 0) {
            throw new Mm1Exception("--repetition-penalty must be a finite number > 0 (1 = off), got "
                    + repetitionPenalty);
        }
        if (stop.stream().anyMatch(String::isEmpty)) {
            throw new Mm1Exception("--stop must not be empty");
        }
        if (maxPixels < 1) {
            throw new Mm1Exception("--max-pixels must be positive, got " + maxPixels);
        }
        DecodePath.of(decode);
        Quantization.of(quantize);
    }

    Quantization quantization() {
        return Quantization.of(quantize);
    }

    DecodePath path() {
        return DecodePath.of(decode);
    }

    /** The options as a generation config with {@code maxTokens} tokens at most. */
    GenerationConfig config(int maxTokens) {
        return GenerationConfig.builder().maxTokens(maxTokens).temperature(temperature).topK(topK).topP(topP)
                .minP(minP).repetitionPenalty(repetitionPenalty).seed(seed).stopStrings(stop).build();
    }

    /** Decodes the --image files. */
    List<RgbImage> loadImages() {
        return loadImages(images);
    }

    List<RgbImage> loadImages(List<Path> files) {
        ImageIoLoader loader = new ImageIoLoader(maxPixels);
        List<RgbImage> out = new ArrayList<>();
        for (Path p : files) {
            out.add(loader.load(p));
        }
        return out;
    }

    /**
     * {@code --max-tokens}, lowered to what the context leaves after the prompt (with a note on stderr): the default
     * of 128 must not make every small model fail.
     */
    int fitToContext(int promptTokens, int maxPositions) {
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
}
