package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleEncoder;
import io.mm1j.data.SequencePacker;
import java.util.Iterator;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The start-up truncation check reads a bounded prefix of each split, whatever its size or state. */
class TruncationCheckTest {
    /** Byte-level ids; the word "broken" fails to encode, as a record the pipeline would skip. */
    private static final SampleEncoder LAYOUT = new SampleEncoder(t -> {
        if (t.equals("broken")) {
            throw new Mm1Exception("broken record");
        }
        return t.chars().mapToLong(ch -> 8 + (ch & 0xFF)).toArray();
    }, SampleEncoder.resizeToUnit(8)).layoutOnly();
    private static final SequencePacker PACKER = new SequencePacker(new SequencePacker.Config(1, 32, 1, 4));

    /** {@code size} one-turn conversations, every tenth answer "broken"; counts the conversations handed out. */
    private static final class Split implements Supplier<Iterator<Sample>> {
        final int size;
        int read;

        Split(int size) {
            this.size = size;
        }

        @Override
        public Iterator<Sample> get() {
            return new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return read < size;
                }

                @Override
                public Sample next() {
                    int i = read++;
                    return new Sample.Conversation("c" + i, List.of(), List.of(new Sample.Turn("user", "hi"),
                            new Sample.Turn("assistant", i % 10 == 9 ? "broken" : "ok")));
                }
            };
        }
    }

    @Test
    void atMostTenThousandConversationsAreReadPerSplitBrokenOnesIncluded() {
        Split big = new Split(25_000);
        TruncationCheck.Tally t = TruncationCheck.tally(big, LAYOUT, PACKER);
        assertEquals(10_000, TruncationCheck.CHECKED);
        assertEquals(10_000, big.read, "read: the first 10,000, not the whole split");
        assertEquals(9_000, t.samples(), "laid out: the 10,000 less the broken tenth");
        assertTrue(t.capped());

        Split small = new Split(50);
        TruncationCheck.Tally all = TruncationCheck.tally(small, LAYOUT, PACKER);
        assertEquals(50, small.read);
        assertEquals(45, all.samples());
        assertFalse(all.capped());
        assertEquals(0, all.withoutTargets(), "a short conversation keeps its answer at 32 tokens");
    }
}
