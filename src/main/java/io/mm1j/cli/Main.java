package io.mm1j.cli;

import io.mm1j.Mm1Exception;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Entry point of the {@code mm1} command line. */
@Command(name = "mm1", mixinStandardHelpOptions = true, version = "mm1j 0.1.0",
        description = "MM1-style multimodal LLMs on the JVM: build, train, evaluate and serve.",
        subcommands = {DemoCommand.class, PretrainCommand.class, SftCommand.class, MergeLoraCommand.class,
                QuantizeCommand.class,
                ClipCommand.class, LrSweepCommand.class, UpcycleCommand.class, AblateCommand.class,
                CompareRunsCommand.class,
                InfoCommand.class, InitCommand.class, GenerateCommand.class, ChatCommand.class, EvalCommand.class,
                ExportCommand.class,
                ScoreCommand.class,
                ServeCommand.class,
                TokenizerCommand.class, DataCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Show stack traces for errors.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        try {
            io.mm1j.nn.NativeAllocator.applyFromEnvironment();
        } catch (Mm1Exception e) {
            System.err.println("mm1: error: " + e.getMessage());
            System.exit(2);
        }
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code (tests call this directly). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean verbose = parsed.hasMatchedOption("--verbose")
                    || parsed.subcommands().stream().anyMatch(p -> p.hasMatchedOption("--verbose"))
                    || hasVerbose(parsed);
            PrintWriter err = cmd.getErr();
            Throwable root = ex;
            if (!(ex instanceof Mm1Exception) && ex.getCause() instanceof Mm1Exception) {
                root = ex.getCause();
            }
            String msg = root instanceof Mm1Exception ? root.getMessage()
                    : root.getClass().getSimpleName() + ": " + root.getMessage();
            err.println("mm1: error: " + msg);
            if (verbose) {
                ex.printStackTrace(err);
            } else if (!(root instanceof Mm1Exception)) {
                err.println("(run with --verbose for the stack trace)");
            }
            err.flush();
            return 1;
        });
        try {
            return cli.execute(args);
        } finally {
            io.mm1j.tensor.Engines.setDefaultDevice(null); // --device holds for one command (tests run many)
        }
    }

    private static boolean hasVerbose(CommandLine.ParseResult parsed) {
        CommandLine.ParseResult p = parsed;
        while (p != null) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
            p = p.subcommand();
        }
        return false;
    }
}
