package io.mm1j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mm1j.TestSupport;
import io.mm1j.llm.DecodePath;
import io.mm1j.tensor.Engines;
import java.nio.file.Path;

/** A tiny-test model folder made with {@code mm1 init}, served on a free loopback port. */
final class TinyModelServer implements AutoCloseable {
    final Mm1Backend backend;
    final OpenAiServer server;
    final HttpTestClient client;

    TinyModelServer(Path dir, ServeLimits limits) {
        TestSupport.CliRun init = TestSupport.cli("init", "--preset", "tiny-test", "--out", dir.toString(), "--seed",
                "1");
        assertEquals(0, init.code(), init.err());
        backend = new Mm1Backend(dir, "tiny", Engines.newRootManager(1), DecodePath.CPU, limits.imageCacheEntries());
        server = new OpenAiServer(backend, limits, null).start("127.0.0.1", 0);
        client = new HttpTestClient(server.port(), null);
    }

    @Override
    public void close() {
        server.close();
        backend.close();
    }
}
