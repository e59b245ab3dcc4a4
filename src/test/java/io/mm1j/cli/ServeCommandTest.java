package io.mm1j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.TestSupport;
import io.mm1j.serve.ServeLimits;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm1 serve}'s option errors are one-line messages (the server itself is tested in io.mm1j.serve). */
class ServeCommandTest {
    @TempDir
    Path tmp;

    @Test
    void badPortAndMissingModelAreOneLineErrors() {
        TestSupport.CliRun port = TestSupport.cli("serve", "--model", tmp.toString(), "--port", "70000");
        assertEquals(1, port.code());
        assertEquals("mm1: error: --port must be within [0, 65535], got 70000\n", port.err());
        TestSupport.CliRun missing = TestSupport.cli("serve", "--model", tmp.resolve("nope").toString(), "--port",
                "0");
        assertEquals(1, missing.code());
        assertTrue(missing.err().startsWith("mm1: error: ") && missing.err().contains("nope")
                && missing.err().lines().count() == 1, missing.err());
    }

    /** A port another process listens on: one line, checked before the model loads (no Javalin error line). */
    @Test
    void aPortInUseIsOneLine() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1,
                java.net.InetAddress.getByName("127.0.0.1"))) {
            int p = taken.getLocalPort();
            TestSupport.CliRun r = TestSupport.cli("serve", "--model", tmp.toString(), "--port", Integer.toString(p));
            assertEquals(1, r.code());
            assertEquals("mm1: error: cannot listen on 127.0.0.1:" + p + ": Address already in use\n", r.err());
        }
    }

    @Test
    void limitsAreValidatedBeforeTheModelLoads() {
        TestSupport.CliRun r = TestSupport.cli("serve", "--model", tmp.toString(), "--queue-size", "0", "--port", "0");
        assertEquals(1, r.code());
        assertEquals("mm1: error: --queue-size must be positive, got 0\n", r.err());
        r = TestSupport.cli("serve", "--model", tmp.toString(), "--request-timeout", "0", "--port", "0");
        assertEquals("mm1: error: --request-timeout must be positive, got 0\n", r.err());
        r = TestSupport.cli("serve", "--model", tmp.toString(), "--api-key", "sekret ", "--port", "0");
        assertEquals("mm1: error: --api-key (or MM1_API_KEY) is blank or starts or ends with whitespace: no client "
                + "could send it as 'Authorization: Bearer KEY'\n", r.err());
    }

    /** tiny-test's context is 128 positions: a limit beyond it is refused from config.json, before the weights load. */
    @Test
    void anExplicitLimitBeyondTheContextIsRefusedAtStartup() {
        assertEquals(0, TestSupport.cli("init", "--preset", "tiny-test", "--out", tmp.toString()).code());
        TestSupport.CliRun r = TestSupport.cli("serve", "--model", tmp.toString(), "--port", "0", "--max-tokens",
                "129");
        assertEquals(1, r.code());
        assertEquals("mm1: error: --max-tokens 129 exceeds the model's context of 128 tokens\n", r.err());
        r = TestSupport.cli("serve", "--model", tmp.toString(), "--port", "0", "--max-prompt-tokens", "4096");
        assertEquals(1, r.code());
        assertEquals("mm1: error: --max-prompt-tokens 4096 exceeds the model's context of 128 tokens\n", r.err());
    }

    @Test
    void theDefaultMaxTokensIsLoweredToTheContextAndExplicitLimitsWithinItAreKept() {
        ServeLimits d = ServeLimits.defaults(); // --max-tokens 512
        assertEquals(128, ServeCommand.withinContext(d, null, null, 128).maxTokens());
        assertEquals(ServeLimits.DEFAULT_MAX_TOKENS, ServeCommand.withinContext(d, null, null, 4096).maxTokens());
        ServeLimits given = d.withMaxTokens(128);
        assertEquals(128, ServeCommand.withinContext(given, 128, 128, 128).maxTokens());
    }

    @Test
    void everyHelpPrintsWithoutAPicocliWarning() {
        java.util.List<java.util.List<String>> commands = new java.util.ArrayList<>();
        commands.add(java.util.List.of());
        picocli.CommandLine root = new picocli.CommandLine(new io.mm1j.cli.Main());
        root.getSubcommands().forEach((name, sub) -> {
            commands.add(java.util.List.of(name));
            sub.getSubcommands().keySet().forEach(s -> commands.add(java.util.List.of(name, s)));
        });
        assertTrue(commands.size() > 20, commands.toString());
        for (java.util.List<String> cmd : commands) {
            java.util.List<String> args = new java.util.ArrayList<>(cmd);
            args.add("--help");
            TestSupport.CliRun r = TestSupport.cli(args.toArray(String[]::new));
            assertEquals(0, r.code(), cmd + ": " + r.err());
            assertFalse((r.out() + r.err()).contains("picocli WARN"), cmd + ": " + r.out() + r.err());
        }
    }
}
