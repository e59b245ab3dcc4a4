package io.mm1j.cli;

import io.mm1j.bench.EvalBench;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mm1 bench eval}: CIDEr-D time on 5,000 synthetic images × 5 references (goal: under 3 s). */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "CIDEr-D speed on seeded synthetic captions (PTB tokenisation timed separately).")
public final class BenchEvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--images", defaultValue = "5000", description = "Images (default ${DEFAULT-VALUE}).")
    int images;

    @Option(names = "--refs", defaultValue = "5", description = "References per image (default ${DEFAULT-VALUE}).")
    int refs;

    @Option(names = "--seed", defaultValue = "1234", description = "Caption sampler seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        ScoreCommand.print(spec.commandLine().getOut(), EvalBench.run(images, refs, seed), json);
        return 0;
    }
}
