package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleEncoder;
import io.mm1j.data.SequencePacker;
import java.util.Iterator;
import java.util.List;
import java.util.function.Supplier;

/**
 * Before a new run trains on conversations (SFT): does each conversation keep an assistant token once cut to
 * {@code data.seq_len}? The packer skips (and counts) a conversation whose prompt fills the whole row — it would
 * be a row with no target — so a few long conversations cost nothing but a warning. When a split has none left
 * the run is refused here, naming the source, the counts and the sequence length that would keep the first one,
 * instead of training on loss 0 and reporting that no validation ran.
 *
 * <p>One pass over the first {@link #CHECKED} conversations of each conversation source's training and validation
 * splits (all of a small set; a start-up cost of seconds, not minutes, on LLaVA-665k), tokenised through the run's
 * own chat template, without reading any image ({@link SampleEncoder#layoutOnly}). Past them the packer still skips
 * and counts ({@code samplesWithoutTargets}).
 */
final class TruncationCheck {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TruncationCheck.class);

    /** Conversations read per split at most. */
    static final int CHECKED = 10_000;

    /**
     * One split's tally: conversations read, those left without targets, the row lengths that keep them, and
     * whether the split has more than were read.
     */
    record Tally(long samples, long withoutTargets, int leastToKeepOne, int leastToKeepAll, boolean capped) {
        /** "the 23 conversations" or "the first 10000 conversations". */
        String read() {
            return "the " + (capped ? "first " : "") + samples + " conversations";
        }
    }

    private TruncationCheck() {}

    /**
     * @param packer     a packer of the run's shape (its sequence length and image tokens)
     * @param maxPositions the model's context, for the advice
     */
    static void conversations(RunConfig rc, List<RunData.Source> sources, SampleEncoder encoder,
                              SequencePacker packer, int maxPositions) {
        SampleEncoder layout = encoder.layoutOnly();
        int seqLen = packer.config().seqLen();
        boolean validation = rc.integer("train.eval_interval") > 0;
        for (RunData.Source s : sources) {
            if (!s.format().equals("llava") || s.weight() <= 0) {
                continue;
            }
            String where = describe(rc, s.name());
            for (boolean val : validation ? List.of(false, true) : List.of(false)) {
                Tally t = tally(val ? s.val() : s.train(), layout, packer);
                String split = val ? "validation" : "training";
                if (t.samples() > 0 && t.withoutTargets() == t.samples()) {
                    throw new Mm1Exception(where + ": every one of " + t.read() + " of its "
                            + split + " split loses all its assistant tokens to truncation at data.seq_len=" + seqLen
                            + " (the prompt fills the row): " + advice(t.leastToKeepOne(), maxPositions));
                }
                if (t.withoutTargets() > 0) {
                    LOG.warn("{}: {} of {} of its {} split lose all their assistant tokens to "
                            + "truncation at data.seq_len={} and are skipped ({})", where, t.withoutTargets(),
                            t.read(), split, seqLen, t.leastToKeepAll() <= maxPositions
                                    ? "data.seq_len=" + t.leastToKeepAll() + " keeps them all"
                                    : "keeping them all needs " + t.leastToKeepAll() + " positions, more than the "
                                            + "model's " + maxPositions);
                }
            }
        }
    }

    /**
     * One pass over at most {@link #CHECKED} conversations of a split, those that fail to lay out (bad data, left to
     * the pipeline's skip report) included: a split of broken records is not read to its end.
     */
    static Tally tally(Supplier<Iterator<Sample>> split, SampleEncoder layout, SequencePacker packer) {
        long read = 0;
        long n = 0;
        long without = 0;
        int one = Integer.MAX_VALUE;
        int all = 0;
        boolean capped = false;
        Iterator<Sample> it = split.get();
        try {
            while (it.hasNext()) {
                if (read == CHECKED) {
                    capped = true;
                    break;
                }
                Sample sample = it.next();
                read++;
                SampleEncoder.Prepared p;
                try {
                    p = layout.prepare(sample, null, null);
                } catch (Mm1Exception e) {
                    continue;
                }
                n++;
                int first = packer.firstTarget(p.pieces());
                if (first >= 0) {
                    one = Math.min(one, first);
                    all = Math.max(all, first);
                }
                if (!packer.keepsTargets(p)) {
                    without++;
                }
            }
        } finally {
            if (it instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // a reader over a file opened read-only
                }
            }
        }
        return new Tally(n, without, one == Integer.MAX_VALUE ? 0 : one, all, capped);
    }

    private static String advice(int least, int maxPositions) {
        return least <= maxPositions
                ? "raise data.seq_len to at least " + least + " (the shortest prompt before an assistant token)"
                : "the shortest prompt before an assistant token needs " + least + " positions, more than the "
                        + "model's " + maxPositions + ": shorten the conversations (or their images' tokens)";
    }

    /** {@code data.sources[i] 'name' (path)} for a source of the run config. */
    private static String describe(RunConfig rc, String name) {
        JsonNode list = rc.node("data.sources");
        for (int i = 0; i < list.size(); i++) {
            JsonNode s = list.get(i);
            if (s.path("name").asText(s.path("format").asText()).equals(name)) {
                return "data.sources[" + i + "] '" + name + "' (" + s.path("path").asText() + ")";
            }
        }
        return "data source '" + name + "'";
    }
}
