package io.mm1j.data;

import io.mm1j.Mm1Exception;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Supplier;

/**
 * Draws samples from weighted sources — MM1 §2 pre-trains on 45% interleaved, 45% caption and 10% text-only data
 * ({@link #MM1_WEIGHTS}). Sources are re-opened when exhausted (epochs), so the stream is endless.
 *
 * <p>The source of draw {@code step} is a pure function of (seed, step) — a hashed uniform number against the
 * cumulative weights — so the stream needs no RNG state: a {@link Cursor} (step, samples consumed in the current
 * epoch of each source, epochs) is all a checkpoint stores, and {@link #resume} reproduces the same stream by
 * re-opening each source and skipping what was consumed.
 */
public final class MixtureSampler implements Iterator<Sample>, AutoCloseable {
    /** MM1's mix, in the order interleaved, captions, text. */
    public static final List<Double> MM1_WEIGHTS = List.of(0.45, 0.45, 0.10);

    /** A named source with its weight and a way to (re)open it from the start. */
    public record Source(String name, double weight, Supplier<? extends Iterator<Sample>> open) {
        public Source {
            if (!(weight >= 0)) {
                throw new Mm1Exception("mixture weight of '" + name + "' must be >= 0 (got " + weight + ")");
            }
        }
    }

    /** Where the stream stands; serialisable with Jackson into a checkpoint's state.json. */
    public record Cursor(long step, List<Long> consumed, List<Long> epochs) {}

    private final List<Source> sources;
    private final long seed;
    private final double[] cumulative;
    private final List<Iterator<Sample>> open = new ArrayList<>();
    private final long[] consumed;
    private final long[] epochs;
    private long step;
    private int lastSource = -1;

    public MixtureSampler(List<Source> sources, long seed) {
        if (sources.isEmpty()) {
            throw new Mm1Exception("mixture: no data sources");
        }
        this.sources = List.copyOf(sources);
        this.seed = seed;
        double total = sources.stream().mapToDouble(Source::weight).sum();
        if (total <= 0) {
            throw new Mm1Exception("mixture: all source weights are 0");
        }
        cumulative = new double[sources.size()];
        double acc = 0;
        for (int i = 0; i < sources.size(); i++) {
            acc += sources.get(i).weight() / total;
            cumulative[i] = acc;
            open.add(null);
        }
        consumed = new long[sources.size()];
        epochs = new long[sources.size()];
    }

    /** A sampler positioned at {@code cursor} (taken from an earlier sampler over the same sources and seed). */
    public static MixtureSampler resume(List<Source> sources, long seed, Cursor cursor) {
        MixtureSampler m = new MixtureSampler(sources, seed);
        if (cursor.consumed().size() != sources.size() || cursor.epochs().size() != sources.size()) {
            throw new Mm1Exception("data cursor has " + cursor.consumed().size() + " sources, the mixture has "
                    + sources.size());
        }
        m.step = cursor.step();
        for (int i = 0; i < sources.size(); i++) {
            m.epochs[i] = cursor.epochs().get(i);
            long skip = cursor.consumed().get(i);
            if (skip > 0) {
                Iterator<Sample> it = m.source(i);
                for (long k = 0; k < skip; k++) {
                    if (!it.hasNext()) {
                        throw new Mm1Exception("data cursor: source '" + sources.get(i).name() + "' has fewer than "
                                + skip + " samples now (did the data change?)");
                    }
                    it.next();
                }
                m.consumed[i] = skip;
            }
        }
        return m;
    }

    public Cursor cursor() {
        List<Long> c = new ArrayList<>();
        List<Long> e = new ArrayList<>();
        for (int i = 0; i < consumed.length; i++) {
            c.add(consumed[i]);
            e.add(epochs[i]);
        }
        return new Cursor(step, List.copyOf(c), List.copyOf(e));
    }

    /** The source index drawn at {@code step} (splitmix64 of seed and step → uniform → cumulative weights). */
    int pick(long step) {
        double u = SplitMix64.uniform(seed + (step + 1) * 0x9E3779B97F4A7C15L);
        for (int i = 0; i < cumulative.length; i++) {
            if (u < cumulative[i] && sources.get(i).weight() > 0) {
                return i;
            }
        }
        for (int i = cumulative.length - 1; ; i--) { // rounding left u above the last cumulative value
            if (sources.get(i).weight() > 0) {
                return i;
            }
        }
    }

    private Iterator<Sample> source(int i) {
        if (open.get(i) == null) {
            open.set(i, sources.get(i).open().get());
        }
        return open.get(i);
    }

    @Override
    public boolean hasNext() {
        return true;
    }

    @Override
    public Sample next() {
        int i = pick(step);
        Iterator<Sample> it = source(i);
        if (!it.hasNext()) { // end of an epoch: start the source again
            closeSource(i);
            epochs[i]++;
            consumed[i] = 0;
            it = source(i);
            it.hasNext(); // an empty source throws here (SampleReader's empty-dataset error)
        }
        Sample s = it.next();
        consumed[i]++;
        step++;
        lastSource = i;
        return s;
    }

    /** Index (in the order given) of the source the last sample came from, -1 before the first. */
    public int lastSource() {
        return lastSource;
    }

    /** Name of the source the last sample came from. */
    public String lastSourceName() {
        return lastSource < 0 ? null : sources.get(lastSource).name();
    }

    private void closeSource(int i) {
        if (open.get(i) instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception ignored) {
                // readers only hold read handles
            }
        }
        open.set(i, null);
    }

    @Override
    public void close() {
        for (int i = 0; i < open.size(); i++) {
            closeSource(i);
        }
    }
}
