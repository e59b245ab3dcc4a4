package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import io.mm1j.tokenizer.SpecialTokens;
import java.awt.image.BufferedImage;
import java.util.List;
import org.junit.jupiter.api.Test;

class SequencePackerTest {
    static final long B = SpecialTokens.BOS_ID;
    static final long E = SpecialTokens.EOS_ID;
    static final long I = SpecialTokens.IMAGE_ID;
    static final long P = SpecialTokens.PAD_ID;
    /** One token per character: 'a' → 100, 'b' → 101, … so expected rows can be written by hand. */
    static final SampleEncoder ENC = new SampleEncoder(t -> t.chars().mapToLong(ch -> ch - 'a' + 100L).toArray(),
            img -> new float[] {img.getWidth()});
    static final ImageRef IMG = png(5);

    static ImageRef png(int w) {
        try {
            java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
            javax.imageio.ImageIO.write(new BufferedImage(w, 3, BufferedImage.TYPE_INT_RGB), "png", o);
            return ImageRef.of("x.png", o.toByteArray());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static SampleEncoder.Prepared prep(Sample s) {
        return ENC.prepare(s, null, null);
    }

    static Sample caption(String text) {
        return new Sample.Caption(text, IMG, List.of(text));
    }

    @Test
    void captionsArePackedSeveralPerRowWithImageSlotsMasked() {
        SequencePacker p = new SequencePacker(new SequencePacker.Config(1, 12, 16, 2));
        Batch b = p.next(List.of(prep(caption("ab")), prep(caption("cd"))).iterator());
        assertArrayEquals(new long[] {B, I, I, 100, 101, E, B, I, I, 102, 103, E}, b.tokens());
        assertArrayEquals(new long[] {I, I, 100, 101, E, B, I, I, 102, 103, E, P}, b.targets());
        assertArrayEquals(new float[] {0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0}, b.lossMask());
        assertEquals(List.of(0, 0), b.images().stream().map(Batch.ImageSlot::row).toList());
        assertEquals(List.of(1, 7), b.images().stream().map(Batch.ImageSlot::firstSlot).toList());
    }

    @Test
    void captionThatDoesNotFitMovesWholeToTheNextRow() {
        SequencePacker p = new SequencePacker(new SequencePacker.Config(2, 8, 16, 2));
        Batch b = p.next(List.of(prep(caption("ab")), prep(caption("cde"))).iterator());
        assertEquals(2, b.batchSize());
        assertArrayEquals(new long[] {B, I, I, 100, 101, E, P, P, B, I, I, 102, 103, 104, E, P}, b.tokens());
        assertEquals(1, b.images().get(1).row());
        assertEquals(1, b.images().get(1).firstSlot());
    }

    @Test
    void maxImagesPerRowIsRespected() {
        SequencePacker p = new SequencePacker(new SequencePacker.Config(3, 40, 2, 1));
        Batch b = p.next(List.of(prep(caption("a")), prep(caption("b")), prep(caption("c"))).iterator());
        assertEquals(List.of(0, 0, 1), b.images().stream().map(Batch.ImageSlot::row).toList());
    }

    @Test
    void interleavedDocumentsAreCutBeforeImagesAndContinueInTheNextRow() {
        Sample doc = new Sample.Interleaved("d", List.of(Sample.Part.text("abcdefghij"),
                Sample.Part.image(IMG), Sample.Part.text("klm")));
        SequencePacker p = new SequencePacker(new SequencePacker.Config(2, 12, 16, 3));
        Batch b = p.next(List.of(prep(doc)).iterator());
        // row 0: BOS + 10 letters + 'k'-less tail cannot hold 3 slots + 1 token → image starts row 1
        assertArrayEquals(new long[] {B, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, P}, 
                java.util.Arrays.copyOf(b.tokens(), 12));
        assertEquals(1, b.images().get(0).row());
        assertEquals(0, b.images().get(0).firstSlot());
        for (Batch.ImageSlot s : b.images()) {
            for (int k = 0; k < 3; k++) {
                assertEquals(I, b.tokens()[s.row() * 12 + s.firstSlot() + k]);
            }
            for (int k = 0; k < 2; k++) { // the targets of slots 0 and 1 are slots 1 and 2: no loss
                assertEquals(0f, b.lossMask()[s.row() * 12 + s.firstSlot() + k]);
            }
        }
        assertEquals(1f, b.lossMask()[12 + 2]); // last slot → first text token 'k' is trained
        assertNull(p.next(List.<SampleEncoder.Prepared>of().iterator()));
    }

    @Test
    void longTextFillsRowsCompletely() {
        SequencePacker p = new SequencePacker(new SequencePacker.Config(2, 8, 16, 2));
        Batch b = p.next(List.of(prep(new Sample.Text("t", "abcdefghijklmnopqrstuvwxyz"))).iterator());
        assertEquals(16, b.tokens().length);
        assertTrue(java.util.Arrays.stream(b.tokens()).noneMatch(t -> t == P));
        assertEquals(100 + 8, b.tokens()[8]); // row 1 continues with 'i' (row 0's 9th position was its last target)
    }

    static SampleEncoder.Prepared from(int source, Sample s) {
        SampleEncoder.Prepared p = prep(s);
        return new SampleEncoder.Prepared(p.pieces(), p.atomic(), p.before(), p.after(), source);
    }

    @Test
    void segmentsAndSourcesNumberTheSamplesOfEachRow() {
        // T = 8 (9 buffer positions per row), k = 2. A caption of source 0 takes 6 positions of row 0; the text
        // sample of source 1 places its BOS at position 6, then its letters do not fit the 2 free positions
        // (fewer than MIN_SPLIT) and continue in row 1, where the continued sample is document 0 again.
        SequencePacker p = new SequencePacker(new SequencePacker.Config(2, 8, 16, 2));
        Batch b = p.next(List.of(from(0, caption("ab")), from(1, new Sample.Text("t", "cdefghij"))).iterator());
        assertArrayEquals(new long[] {B, I, I, 100, 101, E, B, P, 102, 103, 104, 105, 106, 107, 108, 109},
                b.tokens());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 1, -1, 0, 0, 0, 0, 0, 0, 0, 0}, b.segments());
        assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, 1, -1, 1, 1, 1, 1, 1, 1, 1, 1}, b.sources());
    }

    @Test
    void threeCaptionsInOneRowAreSegmentsZeroOneTwo() {
        SequencePacker p = new SequencePacker(new SequencePacker.Config(1, 16, 16, 1));
        Batch b = p.next(List.of(from(2, caption("a")), from(0, caption("bc")), from(1, caption("d"))).iterator());
        // B I a E | B I b c E | B I d E | P P P  (the last row position is a target only)
        assertArrayEquals(new long[] {B, I, 100, E, B, I, 101, 102, E, B, I, 103, E, P, P, P}, b.tokens());
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, -1, -1, -1}, b.segments());
        assertArrayEquals(new byte[] {2, 2, 2, 2, 0, 0, 0, 0, 0, 1, 1, 1, 1, -1, -1, -1}, b.sources());
    }

    @Test
    void imagesMustFitTheSequence() {
        assertEquals("packer: an image of 7 tokens does not fit a sequence of 8 with BOS and one text token",
                assertThrows(Mm1Exception.class, () -> new SequencePacker.Config(1, 8, 1, 7)).getMessage());
    }

    static Sample vqa(String question, String answer) {
        return new Sample.Vqa("q-" + question, IMG, question, answer, List.of(answer), "other");
    }

    /**
     * A VQA item whose question fills the row (B I I "Question: abcdefghijklmnop Answer:" is 37 positions, so the
     * answer starts at position 37) keeps no target at T = 30: it is skipped and counted instead of packed as an
     * all-masked row; the next item, whose answer fits, is packed as usual.
     */
    @Test
    void anAtomicSampleTruncatedToNoTargetIsSkippedAndCounted() {
        SequencePacker p = new SequencePacker(new SequencePacker.Config(1, 30, 16, 2));
        SampleEncoder.Prepared lost = prep(vqa("abcdefghijklmnop", "a"));
        SampleEncoder.Prepared kept = prep(vqa("a", "b"));
        assertEquals(37, p.firstTarget(lost.pieces()));
        assertFalse(p.keepsTargets(lost));
        assertEquals(22, p.firstTarget(kept.pieces())); // B I I "Question: a Answer:" (19), then " b"
        assertTrue(p.keepsTargets(kept));
        Batch b = p.next(List.of(lost, kept).iterator());
        assertEquals(1, p.withoutTargets());
        assertEquals(1, b.images().size());
        assertEquals(101, b.tokens()[23]); // the kept item starts the row: B I I, 19 question tokens, " b"
        float[] mask = new float[30];
        java.util.Arrays.fill(mask, 21, 24, 1f); // targets " b" and EOS (positions 22..24, shifted by one)
        assertArrayEquals(mask, b.lossMask());
    }

    /** A stream where nothing keeps a target at this length fails with one line instead of packing forever. */
    @Test
    void aStreamOfSamplesWithoutTargetsFails() {
        SequencePacker p = new SequencePacker(new SequencePacker.Config(1, 30, 16, 2));
        SampleEncoder.Prepared lost = prep(vqa("abcdefghijklmnop", "a"));
        java.util.Iterator<SampleEncoder.Prepared> forever = java.util.stream.Stream.generate(() -> lost).iterator();
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> p.next(forever));
        assertEquals("data: the last 1000 samples all lost every supervised token to truncation at sequence length "
                + "30 (data.seq_len): nothing to train on; raise data.seq_len", e.getMessage());
    }
}
