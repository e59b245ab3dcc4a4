package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/** Runs {@code mm1 pretrain} in-process at unit-test size and reads what it wrote. */
public final class PretrainRuns {
    static final ObjectMapper JSON = new ObjectMapper();

    /** Exit code, stdout and stderr of one CLI invocation. */
    public record Cli(int code, String out, String err) {}

    private PretrainRuns() {}

    /** The tiny shape every pretrain test uses: tiny-test model, a small synthetic world, T = 64, B = 2. */
    public static final List<String> TINY = List.of("--preset", "tiny-test", "--data", "synthetic",
            "--set", "data.synthetic_images=120", "--set", "data.seq_len=64", "--set", "train.batch_size=2",
            "--set", "train.eval_batches=1", "--set", "train.eval_interval=0", "--set", "optim.warmup_steps=2");

    /** {@code mm1 pretrain --out OUT} + {@link #TINY} + {@code extra}. */
    public static Cli pretrain(Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("pretrain", "--out", out.toString()));
        args.addAll(TINY);
        args.addAll(Arrays.asList(extra));
        return cli(args.toArray(String[]::new));
    }

    public static Cli cli(String... args) {
        io.mm1j.TestSupport.CliRun r = io.mm1j.TestSupport.cli(args);
        return new Cli(r.code(), r.out(), r.err());
    }

    /** step → training loss (the raw JSON text, so equal strings mean bit-identical doubles) of metrics.jsonl. */
    public static TreeMap<Long, String> losses(Path run) throws IOException {
        TreeMap<Long, String> m = new TreeMap<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            JsonNode n = JSON.readTree(line);
            if (n.has("loss")) {
                String prev = m.put(n.get("step").asLong(), n.get("loss").toString());
                if (prev != null) {
                    throw new AssertionError("step " + n.get("step") + " logged twice in " + run);
                }
            }
        }
        return m;
    }

    /** The first metrics.jsonl line of {@code step} that has {@code key}. */
    public static JsonNode line(Path run, long step, String key) throws IOException {
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            JsonNode n = JSON.readTree(line);
            if (n.path("step").asLong() == step && n.has(key)) {
                return n;
            }
        }
        throw new AssertionError("no line with " + key + " at step " + step + " in " + run);
    }

    /** A synthetic world written by {@code mm1 data synth} (120 images of 32 px) into {@code dir}. */
    public static Path synthWorld(Path dir) {
        Cli c = cli("data", "synth", "--out", dir.toString(), "--images", "120", "--size", "32", "--seed", "0");
        if (c.code() != 0) {
            throw new AssertionError("data synth failed: " + c.err());
        }
        return dir;
    }

    /** {@code --set data.sources=[…]} with the world's COCO captions as the only source. */
    public static String captionsOnly(Path world) {
        String d = world.toAbsolutePath().toString().replace("\\", "/");
        return "data.sources=[{\"name\":\"captions\",\"format\":\"coco\",\"path\":\"" + d
                + "/coco/captions_train.json\",\"images\":\"" + d + "/images/train\",\"weight\":1}]";
    }
}
