package io.mm1j;

import ai.djl.ndarray.NDManager;
import io.mm1j.tensor.Engines;
import io.mm1j.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Shared fixtures: one engine per JVM, and the shared data folder (tests skip with a message when it is absent). */
public final class TestSupport {
    private static NDManager root;

    private TestSupport() {}

    public static synchronized NDManager root() {
        if (root == null) {
            root = Engines.newRootManager(1234);
        }
        return root;
    }

    /** ../shared/data (or -Dmm1j.sharedData / $MM1_DATA); skips the calling test when absent. */
    public static Path sharedData(String sub) {
        String prop = System.getProperty("mm1j.sharedData");
        String env = System.getenv("MM1_DATA");
        for (String p : new String[] {prop, env, "../shared/data"}) {
            if (p != null && Files.isDirectory(Path.of(p, sub))) {
                return Path.of(p, sub);
            }
        }
        Assumptions.assumeTrue(false, "shared data '" + sub + "' not found (../shared/data); skipping");
        return null;
    }

    /** Exit code, stdout and stderr of one in-process CLI invocation. */
    public record CliRun(int code, String out, String err) {}

    /** Runs {@code mm1 args…} in this JVM, capturing its output (one run at a time: System.out is global). */
    public static synchronized CliRun cli(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new CliRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
