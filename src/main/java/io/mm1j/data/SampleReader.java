package io.mm1j.data;

import io.mm1j.Mm1Exception;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A streaming reader: yields samples one at a time and holds at most what one record needs. Subclasses implement
 * {@link #readNext()}; this base class adds the rule that a dataset which yields nothing is an error (a typo in a
 * path or a filter that drops everything must not turn into silent zero-sample training), with the skip summary
 * in the message so the user sees why.
 */
public abstract class SampleReader implements Iterator<Sample>, AutoCloseable {
    protected final String source;
    protected final SkipReport skips;
    private Sample next;
    private boolean done;
    private long yielded;

    protected SampleReader(String source, SkipReport skips) {
        this.source = source;
        this.skips = skips;
    }

    /** The next sample, or null at the end of the data. Bad records are reported to {@link #skips} and passed over. */
    protected abstract Sample readNext();

    @Override
    public final boolean hasNext() {
        if (next == null && !done) {
            next = readNext();
            if (next == null) {
                done = true;
                skips.logSummary(source);
                if (yielded == 0) {
                    throw new Mm1Exception(source + ": empty dataset: no usable samples (" + skips.summary() + ")");
                }
            }
        }
        return next != null;
    }

    @Override
    public final Sample next() {
        if (!hasNext()) {
            throw new NoSuchElementException(source);
        }
        Sample s = next;
        next = null;
        yielded++;
        return s;
    }

    /** Samples handed out so far. */
    public long yielded() {
        return yielded;
    }

    public SkipReport skips() {
        return skips;
    }

    public String source() {
        return source;
    }

    @Override
    public void close() {}
}
