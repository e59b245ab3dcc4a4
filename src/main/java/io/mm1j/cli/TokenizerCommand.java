package io.mm1j.cli;

import io.mm1j.Mm1Exception;
import io.mm1j.tokenizer.BpeTrainer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Locale;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mm1 tokenizer train}: byte-level BPE → Hugging Face tokenizer.json. */
@Command(name = "tokenizer", mixinStandardHelpOptions = true, description = "Tokenizer tools.",
        subcommands = {TokenizerCommand.Train.class})
public final class TokenizerCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Train a byte-level BPE tokenizer (special tokens <pad> <s> </s> <image> and chat roles at "
                    + "ids 0-7) and write a Hugging Face tokenizer.json.")
    static final class Train implements Callable<Integer> {
        @Option(names = "--input", required = true, arity = "1..*",
                description = "Text files (.jsonl: each line's \"text\").")
        List<Path> input;

        @Option(names = "--vocab-size", defaultValue = "4096", description = "Vocabulary size incl. special and byte "
                + "tokens (default ${DEFAULT-VALUE}).")
        int vocabSize;

        @Option(names = "--min-frequency", defaultValue = "2", description = "Smallest pair count to merge.")
        int minFrequency;

        @Option(names = "--out", defaultValue = "tokenizer.json", description = "Output file (default "
                + "${DEFAULT-VALUE}; must not exist unless --overwrite).")
        Path out;

        @Option(names = "--overwrite", description = "Replace an existing --out file.")
        boolean overwrite;

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            checkOut(out, overwrite); // before training, which can take minutes
            BpeTrainer.Result r = new BpeTrainer(vocabSize, minFrequency).addFiles(input).train();
            checkOut(out, overwrite); // again: another run may have written it meanwhile
            r.write(out); // atomic (AtomicFiles): a reader sees the old file or the complete new one
            spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s: vocab %d (%d merges, %d distinct words) in %.1f s%n", out,
                    r.vocabSize(), r.merges().size(), r.distinctWords(), r.seconds());
            spec.commandLine().getOut().flush();
            return 0;
        }

        /** Refuses a folder, and an existing file unless {@code overwrite}, so a tokenizer is never lost silently. */
        static void checkOut(Path out, boolean overwrite) {
            if (Files.isDirectory(out)) {
                throw new Mm1Exception("--out " + out + ": is a folder, not a file (name the tokenizer.json to "
                        + "write)");
            }
            if (Files.exists(out, LinkOption.NOFOLLOW_LINKS) && !overwrite) {
                throw new Mm1Exception("--out " + out + ": file exists (pass --overwrite to replace it)");
            }
        }
    }
}
