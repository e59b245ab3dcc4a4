package io.mm1j.eval;

import java.util.Locale;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A progress line with rate and ETA, at most every {@value #INTERVAL_NS} ns and at the end, so a long evaluation
 * shows it is alive without flooding the log. Lines go to the sink (the CLI prints them to stderr), or to SLF4J
 * when there is no sink — never both, so a terminal shows each line once.
 */
final class Progress {
    private static final Logger LOG = LoggerFactory.getLogger(Progress.class);
    static final long INTERVAL_NS = 10_000_000_000L;

    private final int total;
    private final Consumer<String> sink;
    private final String what;
    private final long start = System.nanoTime();
    private long last = start;
    private int done;

    Progress(int total, Consumer<String> sink, String what) {
        this.total = total;
        this.sink = sink;
        this.what = what;
    }

    void step() {
        done++;
        long now = System.nanoTime();
        if (now - last >= INTERVAL_NS || done == total) {
            last = now;
            double el = (now - start) / 1e9;
            double rate = done / Math.max(el, 1e-9);
            String line = String.format(Locale.ROOT, "%s: %d/%d (%.1f%%), %.2f/s, elapsed %.0fs, ETA %.0fs", what, done,
                    total, 100.0 * done / total, rate, el, (total - done) / rate);
            if (sink != null) {
                sink.accept(line);
            } else {
                LOG.info(line);
            }
        }
    }
}
