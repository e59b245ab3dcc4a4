package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.bench.DecodeBench;
import io.mm1j.bench.GemmBench;
import io.mm1j.bench.TrainStepBench;
import io.mm1j.config.LlmConfig;
import io.mm1j.config.Presets;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.Mm1Exception;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 bench …}: benchmarks that print JSON (no timed tests; figures go in issue notes). */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (JSON on stdout).",
        subcommands = {BenchCommand.Gemm.class, BenchCommand.Decode.class, BenchCommand.Prefill.class, BenchCommand.TrainStep.class,
                BenchEvalCommand.class, BenchDataCommand.class, BenchVisionCommand.class,
                BenchCommand.TokenizerTrain.class, BenchCommand.Serve.class})
public final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true, description = "FP32 sgemm GFLOP/s (the roofline).")
    static final class Gemm extends BenchTask.OnDevice {
        @Option(names = "--n", defaultValue = "2048", description = "Matrix side (default ${DEFAULT-VALUE}).")
        int n;

        @Option(names = "--reps", defaultValue = "10", description = "Timed repetitions (median reported).")
        int reps;

        @Override
        ObjectNode run(NDManager root) {
            return GemmBench.run(root, n, reps);
        }
    }

    @Command(name = "decode", mixinStandardHelpOptions = true,
            description = "KV-cache decode tokens/s (batch 1, greedy; F32 or int8 weights) for a model folder or a "
                    + "random model.")
    static final class Decode extends BenchTask.OnDevice {
        @Option(names = "--model", description = "HF Llama model folder (default: random weights of --shape).")
        Path model;

        @Option(names = "--shape", description = "Random model shape, e.g. hidden=512,intermediate=1376,layers=8,"
                + "heads=8,kvHeads=8,vocab=4096 (the default).")
        String shape;

        @Option(names = "--tokens", defaultValue = "128", description = "Timed tokens (default ${DEFAULT-VALUE}).")
        int tokens;

        @Option(names = "--warmup", defaultValue = "512", description = "Untimed warm-up tokens, in runs of --tokens "
                + "(default ${DEFAULT-VALUE}: the JIT's code is steady after a few hundred tokens).")
        int warmup;

        @Option(names = "--rounds", defaultValue = "3", description = "Timed runs; tokensPerSecond is their median, "
                + "bestTokensPerSecond the fastest (default ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--quantize", defaultValue = "none", description = "Weights of the CPU path: none (as stored) "
                + "or int8 (quantised on load, as generate --quantize int8) (default ${DEFAULT-VALUE}).")
        String quantize;

        @Option(names = "--no-djl", description = "Skip the DJL/libtorch comparison run.")
        boolean noDjl;

        @Override
        ObjectNode run(NDManager root) {
            io.mm1j.llm.Quantization q = io.mm1j.llm.Quantization.of(quantize);
            Decoder d = model != null ? HfLlama.load(model, root, DataType.FLOAT32)
                    : DecodeBench.randomModel(parseShape(shape), root);
            q.apply(d);
            String source = model != null ? model.toString() : "random " + (shape == null
                    ? "hidden=512,intermediate=1376,layers=8,heads=8,kvHeads=8,vocab=4096" : shape);
            return DecodeBench.run(d, tokens, warmup, rounds, source, !noDjl);
        }

        static LlmConfig parseShape(String spec) {
            LlmConfig d = DecodeBench.defaultShape();
            if (spec == null || spec.isBlank()) {
                return d;
            }
            Map<String, Integer> v = new java.util.HashMap<>(Map.of("hidden", d.hiddenSize(), "intermediate",
                    d.intermediateSize(), "layers", d.numLayers(), "heads", d.numHeads(), "kvHeads", d.numKvHeads(),
                    "vocab", d.vocabSize()));
            for (String kv : spec.split(",")) {
                String[] p = kv.split("=", 2);
                if (p.length != 2 || !v.containsKey(p[0].trim())) {
                    throw new Mm1Exception("--shape: bad entry '" + kv + "'; keys: " + v.keySet());
                }
                try {
                    v.put(p[0].trim(), Integer.parseInt(p[1].trim()));
                } catch (NumberFormatException e) {
                    throw new Mm1Exception("--shape: '" + p[1] + "' is not an integer (key " + p[0] + ")");
                }
            }
            return LlmConfig.llama(v.get("vocab"), v.get("hidden"), v.get("intermediate"), v.get("layers"),
                    v.get("heads"), v.get("kvHeads"), 1024, false);
        }
    }

    @Command(name = "prefill", mixinStandardHelpOptions = true,
            description = "Prompt processing tokens/s: batched prefill on the CPU path (and, for comparison, the same "
                    + "prompt fed token by token and through DJL), batch 1, F32, for a model folder or a random model.")
    static final class Prefill extends BenchTask.OnDevice {
        @Option(names = "--model", description = "Model folder (mm1j or HF Llama; default: random weights of "
                + "--shape).")
        Path model;

        @Option(names = "--shape", description = "Random model shape, e.g. hidden=512,intermediate=1376,layers=8,"
                + "heads=8,kvHeads=8,vocab=4096 (the default: d512, the shape llama.cpp was timed on); or d512.")
        String shape;

        @Option(names = "--tokens", defaultValue = "128", description = "Prompt tokens (default ${DEFAULT-VALUE}).")
        int tokens;

        @Option(names = "--reps", defaultValue = "5", description = "Timed runs, median reported (default "
                + "${DEFAULT-VALUE}).")
        int reps;

        @Override
        ObjectNode run(NDManager root) {
            if (model != null) {
                Path dir = io.mm1j.mllm.Mm1Model.resolveFolder(model);
                try (io.mm1j.mllm.Mm1Model mm = io.mm1j.mllm.Mm1Model.load(dir, root, DataType.FLOAT32)) {
                    return io.mm1j.bench.PrefillBench.run(mm.decoder(), tokens, reps, dir.toString(), false);
                }
            }
            String spec = "d512".equals(shape) ? null : shape;
            LlmConfig c = Decode.parseShape(spec);
            try (Decoder d = DecodeBench.randomModel(c, root)) {
                return io.mm1j.bench.PrefillBench.run(d, tokens, reps, "random " + (spec == null
                        ? "hidden=512,intermediate=1376,layers=8,heads=8,kvHeads=8,vocab=4096" : spec),
                        c.equals(DecodeBench.defaultShape()));
            }
        }
    }

    @Command(name = "train-step", mixinStandardHelpOptions = true,
            description = "LLM training step throughput and MFU against sgemm measured in the same run.")
    static final class TrainStep extends BenchTask.OnDevice {
        @Option(names = "--preset", defaultValue = "mini", description = "Preset (default ${DEFAULT-VALUE}).")
        String preset;

        @Option(names = "--batch", defaultValue = "8", description = "Sequences per step (default ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--seq", defaultValue = "256", description = "Tokens per sequence (default ${DEFAULT-VALUE}).")
        int seq;

        @Option(names = "--steps", defaultValue = "5", description = "Timed steps (median reported).")
        int steps;

        @Option(names = "--activation-checkpointing", description = "Recompute each layer in the backward "
                + "(train.ActivationCheckpointing) instead of keeping every activation.")
        boolean checkpointing;

        @Option(names = "--layers", defaultValue = "0", description = "Override the preset's LLM depth (e.g. to "
                + "measure a large preset's layers on a small machine; default: the preset's).")
        int layers;

        @Override
        ObjectNode run(NDManager root) {
            LlmConfig p = Presets.load(preset).llm();
            if (layers < 0) {
                throw new Mm1Exception("--layers must be positive, got " + layers);
            }
            LlmConfig c = layers == 0 ? p : new LlmConfig(p.vocabSize(), p.hiddenSize(), p.intermediateSize(), layers,
                    p.numHeads(), p.numKvHeads(), p.headDim(), p.maxPositions(), p.rmsNormEps(), p.ropeTheta(),
                    p.tieEmbeddings(), p.bosTokenId(), p.eosTokenId(), p.moe(), p.extraEosTokenIds());
            if (seq > c.maxPositions()) {
                throw new Mm1Exception("--seq " + seq + " exceeds the preset's maxPositions " + c.maxPositions());
            }
            return TrainStepBench.run(root, c, preset, batch, seq, steps, checkpointing);
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Serving under concurrency: the OpenAI server on a loopback port with continuous batching, "
                    + "streaming chat requests from 1, 4, 8 and 16 concurrent clients (one image each when the model "
                    + "has a vision tower); time to first token p50/p95 and tokens/s per client and in aggregate.")
    static final class Serve extends BenchTask.OnDevice {
        @Option(names = "--model", description = "Model folder (default: random weights of --preset in a temporary "
                + "folder).")
        Path model;

        @Option(names = "--preset", defaultValue = "mini", description = "Preset of the random model when no "
                + "--model (default ${DEFAULT-VALUE}).")
        String preset;

        @Option(names = "--clients", split = ",", defaultValue = "1,4,8,16", description = "Concurrency levels "
                + "(default ${DEFAULT-VALUE}).")
        int[] clients;

        @Option(names = "--requests", defaultValue = "4", description = "Requests per client, back to back "
                + "(default ${DEFAULT-VALUE}).")
        int requests;

        @Option(names = "--max-tokens", defaultValue = "64", description = "Completion tokens per request "
                + "(default ${DEFAULT-VALUE}).")
        int maxTokens;

        @Option(names = "--max-batch", defaultValue = "" + io.mm1j.serve.ServeLimits.DEFAULT_MAX_BATCH,
                description = "The server's continuous-batching size (default ${DEFAULT-VALUE}; 0 = one request at "
                        + "a time, for comparison).")
        int maxBatch;

        @Option(names = "--decode", defaultValue = "cpu", description = "Decode path: cpu or djl (default "
                + "${DEFAULT-VALUE}).")
        String decode;

        @Option(names = "--encode-threads", defaultValue = "0", description = "The server's libtorch threads, as "
                + "serve --encode-threads (default ${DEFAULT-VALUE}: automatic).")
        int encodeThreads;

        @Option(names = "--warm-up", defaultValue = "60", description = "Most seconds of untimed rounds through "
                + "the levels (2 requests per client) before the timed ones, ended once a round's JIT compilation "
                + "takes under 3%% of the cores (default ${DEFAULT-VALUE}; 0 = one round).")
        double warmUp;

        @Override
        ObjectNode run(NDManager root) {
            io.mm1j.llm.DecodePath path = io.mm1j.llm.DecodePath.of(decode);
            if (maxBatch < 0) {
                throw new Mm1Exception("--max-batch must be >= 0, got " + maxBatch);
            }
            Path tmp = null;
            try {
                Path dir;
                String source;
                if (model != null) {
                    dir = io.mm1j.mllm.Mm1Model.resolveFolder(model);
                    source = dir.toString();
                } else {
                    tmp = java.nio.file.Files.createTempDirectory("mm1-bench-serve");
                    dir = tmp.resolve("model");
                    InitCommand.writeRandomModel(preset, dir, 0);
                    source = "random " + preset;
                }
                return io.mm1j.bench.ServeBench.run(dir, source, root, path, clients, requests, maxTokens, maxBatch,
                        encodeThreads, warmUp);
            } catch (Mm1Exception e) {
                throw e;
            } catch (Exception e) {
                throw new Mm1Exception("bench serve failed: " + e, e);
            } finally {
                if (tmp != null) {
                    deleteTree(tmp);
                }
            }
        }

        private static void deleteTree(Path p) {
            try (java.util.stream.Stream<Path> all = java.nio.file.Files.walk(p)) {
                all.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (java.io.IOException e) {
                System.err.println("mm1: could not remove " + p + ": " + e.getMessage());
            }
        }
    }

    @Command(name = "tokenizer", mixinStandardHelpOptions = true,
            description = "BPE training throughput (target: a 4k vocabulary on 5 MB in under a minute on 2 cores).")
    static final class TokenizerTrain extends BenchTask {
        @Option(names = "--input", arity = "1..*", description = "Text files, cycled up to --megabytes (default: "
                + "a seeded Zipf-distributed pseudo-word corpus with ~50k distinct words, like natural text).")
        java.util.List<Path> input = new java.util.ArrayList<>();

        @Option(names = "--megabytes", defaultValue = "5", description = "Corpus size (default ${DEFAULT-VALUE}).")
        double megabytes;

        @Option(names = "--vocab-size", defaultValue = "4096", description = "Vocabulary (default ${DEFAULT-VALUE}).")
        int vocabSize;

        @Override
        ObjectNode report() throws java.io.IOException {
            java.util.List<Path> files = input;
            Path tmp = null;
            if (files.isEmpty()) {
                tmp = java.nio.file.Files.createTempFile("mm1-bench-text", ".txt");
                StringBuilder sb = io.mm1j.bench.TokenizerBench.zipfCorpus(megabytes, 50_000, 7);
                java.nio.file.Files.writeString(tmp, sb);
                files = java.util.List.of(tmp);
            }
            try {
                return io.mm1j.bench.TokenizerBench.run(files, megabytes, vocabSize);
            } finally {
                if (tmp != null) {
                    java.nio.file.Files.deleteIfExists(tmp);
                }
            }
        }
    }
}
