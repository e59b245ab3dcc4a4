package io.mm1j.data;

import io.mm1j.data.SampleEncoder.Piece;
import io.mm1j.data.SampleEncoder.Prepared;
import io.mm1j.Mm1Exception;
import io.mm1j.tokenizer.SpecialTokens;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * Packs prepared samples into fixed-length rows (MM1 §2: sequences of 4096 tokens with up to 16 images; mini
 * scale uses shorter ones). Rules:
 * <ul>
 *   <li>an image is k consecutive {@code <image>} ids (k = the connector's image tokens) — one id per slot rather
 *       than one id expanded later, so sequence lengths, positions and masks are final here and the model only
 *       overwrites positions;</li>
 *   <li>at most {@code maxImages} images per row, and an image always has room for at least one token after it;</li>
 *   <li>captions, VQA items and conversations are atomic: they move to the next row whole (truncated only if longer
 *       than a row), so several captions share a row;</li>
 *   <li>interleaved documents and text are cut at piece boundaries (before an image, between sentences) or inside
 *       text when at least {@value #MIN_SPLIT} positions are left; the rest continues in the next row;</li>
 *   <li>the loss mask is 0 where the target is an image slot, padding, BOS or a prompt token;</li>
 *   <li>an atomic sample whose truncation cuts every supervised token (a conversation whose prompt fills the row)
 *       is skipped and counted ({@link #withoutTargets}), not packed as a row that teaches nothing; after
 *       {@value #WITHOUT_TARGETS_IN_A_ROW_LIMIT} such samples in a row the packer fails instead of looking on.</li>
 * </ul>
 * Batches end at sample boundaries for the data cursor: a sample that did not start in a full batch is carried to
 * the next one; the unfinished rest of a sample that did start is dropped. So the cursor stored with a batch
 * resumes exactly the stream an uninterrupted run would see.
 */
public final class SequencePacker {
    /** Fewest free positions worth starting a text fragment in (smaller tails are padded instead). */
    static final int MIN_SPLIT = 8;
    /** Consecutive samples without targets after which {@link #next} fails: the data cannot train at this length. */
    static final int WITHOUT_TARGETS_IN_A_ROW_LIMIT = 1000;

    /** Shapes: B rows of T tokens, ≤ maxImages images per row, k slots per image. */
    public record Config(int batchSize, int seqLen, int maxImages, int imageTokens) {
        public Config {
            if (batchSize < 1 || seqLen < 2 || maxImages < 1 || imageTokens < 1) {
                throw new Mm1Exception("packer: batch, sequence length, max images and image tokens must be positive");
            }
            if (seqLen + 1 < MIN_SPLIT) { // an empty row must always be able to take a piece of text
                throw new Mm1Exception("packer: sequence length must be at least " + (MIN_SPLIT - 1) + ", got "
                        + seqLen);
            }
            if (imageTokens + 2 > seqLen) {
                throw new Mm1Exception("packer: an image of " + imageTokens + " tokens does not fit a sequence of "
                        + seqLen + " with BOS and one text token");
            }
        }
    }

    private enum Outcome { DONE, FULL_UNTOUCHED, FULL_PARTIAL }

    private record Row(long[] buf, float[] mask, List<Batch.ImageSlot> slots, int[] segment, byte[] source) {}

    private final Config c;
    private final List<Row> rows = new ArrayList<>();
    private long[] buf;
    private float[] mask;
    private List<Batch.ImageSlot> slots;
    private int[] segment; // (T+1) sample number within the row, -1 = padding
    private byte[] source; // (T+1) mixture source of that sample
    private int segmentId; // number of the sample being placed in the current row
    private byte sourceId;
    private int len;
    private Prepared pending;

    private final long imageId;
    private final long padId;
    /** Samples skipped because truncation cut all their targets (read by other threads for the summary). */
    private final java.util.concurrent.atomic.AtomicLong withoutTargets = new java.util.concurrent.atomic.AtomicLong();
    private int withoutTargetsInARow;

    public SequencePacker(Config config) {
        this(config, SpecialTokens.Ids.FIXED);
    }

    /** @param ids the tokenizer's special ids by role (the image slots and padding written here) */
    public SequencePacker(Config config, SpecialTokens.Ids ids) {
        this.c = config;
        this.imageId = ids.image();
        this.padId = ids.pad();
        resetRow();
    }

    public Config config() {
        return c;
    }

    /** The next batch, or null when {@code in} is exhausted and nothing is left. */
    public Batch next(Iterator<Prepared> in) {
        rows.clear();
        resetRow();
        MixtureSampler.Cursor cursor = null;
        while (true) {
            Prepared p = pending != null ? pending : in.hasNext() ? in.next() : null;
            pending = null;
            if (p == null) {
                if (len > 0) {
                    finishRow();
                }
                return rows.isEmpty() ? null : build(cursor);
            }
            Outcome o = place(p);
            if (o == Outcome.FULL_UNTOUCHED) {
                pending = p;
                return build(p.before());
            }
            if (o == Outcome.FULL_PARTIAL) {
                return build(p.after());
            }
            cursor = p.after();
        }
    }

    /** Atomic samples skipped so far because truncation to one row cut every supervised token. */
    public long withoutTargets() {
        return withoutTargets.get();
    }

    /**
     * Whether an atomic sample keeps a target once cut to one row: false when it has supervised tokens and
     * {@link #truncate} removes them all. (Non-atomic samples continue in the next row and always keep theirs.)
     */
    public boolean keepsTargets(Prepared p) {
        if (!p.atomic()) {
            return true;
        }
        int cap = c.seqLen() + 1;
        List<Piece> cut = truncate(p.pieces(), cap);
        return cut == p.pieces() || firstTarget(p.pieces()) < 0 || firstTarget(cut) >= 0;
    }

    /**
     * The position of a sample's first supervised token when it starts a row (position 0 is never a target: the
     * row's targets are its tokens shifted by one), or -1 when it has none. A row of {@code seqLen} ≥ this position
     * keeps that token.
     */
    public int firstTarget(List<Piece> pieces) {
        int pos = 0;
        for (Piece pc : pieces) {
            if (!pc.isImage() && pc.loss()) {
                int first = Math.max(pos, 1);
                if (first < pos + pc.tokens().length) {
                    return first;
                }
            }
            pos += length(pc);
        }
        return -1;
    }

    private Outcome place(Prepared p) {
        int cap = c.seqLen() + 1; // T inputs + the last target
        if (!keepsTargets(p)) {
            withoutTargets.incrementAndGet();
            if (++withoutTargetsInARow >= WITHOUT_TARGETS_IN_A_ROW_LIMIT) {
                throw new Mm1Exception("data: the last " + WITHOUT_TARGETS_IN_A_ROW_LIMIT + " samples all lost "
                        + "every supervised token to truncation at sequence length " + c.seqLen() + " (data.seq_len): "
                        + "nothing to train on; raise data.seq_len");
            }
            return Outcome.DONE; // skipped whole: the cursor moves past it, as for a sample that failed to load
        }
        withoutTargetsInARow = 0;
        sourceId = (byte) p.source();
        segmentId = len == 0 ? 0 : segmentId + 1;
        if (p.atomic()) {
            List<Piece> pieces = truncate(p.pieces(), cap);
            int need = pieces.stream().mapToInt(this::length).sum();
            long images = pieces.stream().filter(Piece::isImage).count();
            if (len > 0 && (len + need > cap || slots.size() + images > c.maxImages()) && !newRow()) {
                return Outcome.FULL_UNTOUCHED;
            }
            pieces.forEach(this::appendWhole);
            return Outcome.DONE;
        }
        boolean placed = false; // true once more than the leading BOS is in
        for (int i = 0; i < p.pieces().size(); i++) {
            Piece pc = p.pieces().get(i);
            if (pc.isImage()) {
                if ((len + c.imageTokens() + 1 > cap || slots.size() >= c.maxImages()) && !newRow()) {
                    return placed ? Outcome.FULL_PARTIAL : Outcome.FULL_UNTOUCHED;
                }
                appendWhole(pc);
                placed = true;
                continue;
            }
            long[] t = pc.tokens();
            int off = 0;
            while (off < t.length) {
                int space = cap - len;
                int left = t.length - off;
                if (space == 0 || (left > space && space < MIN_SPLIT)) {
                    if (!newRow()) {
                        return placed ? Outcome.FULL_PARTIAL : Outcome.FULL_UNTOUCHED;
                    }
                    continue;
                }
                int n = Math.min(space, left);
                System.arraycopy(t, off, buf, len, n);
                Arrays.fill(mask, len, len + n, pc.loss() ? 1f : 0f);
                mark(n);
                len += n;
                off += n;
                placed |= i > 0;
            }
        }
        return Outcome.DONE;
    }

    private int length(Piece p) {
        return p.isImage() ? c.imageTokens() : p.tokens().length;
    }

    /** Cuts an atomic sample's trailing text so that it fits an empty row (images are kept). */
    private List<Piece> truncate(List<Piece> pieces, int cap) {
        int total = pieces.stream().mapToInt(this::length).sum();
        if (total <= cap) {
            return pieces;
        }
        List<Piece> out = new ArrayList<>();
        int used = 0;
        for (Piece p : pieces) {
            int n = length(p);
            if (used + n <= cap) {
                out.add(p);
                used += n;
            } else if (!p.isImage() && used < cap) {
                out.add(new Piece(Arrays.copyOf(p.tokens(), cap - used), null, p.loss()));
                used = cap;
            }
        }
        return out;
    }

    private void appendWhole(Piece p) {
        if (p.isImage()) {
            slots.add(new Batch.ImageSlot(rows.size(), len, p.image()));
            io.mm1j.mllm.ImageSlots.fill(buf, len, c.imageTokens(), imageId);
            Arrays.fill(mask, len, len + c.imageTokens(), 0f);
            mark(c.imageTokens());
            len += c.imageTokens();
        } else {
            System.arraycopy(p.tokens(), 0, buf, len, p.tokens().length);
            Arrays.fill(mask, len, len + p.tokens().length, p.loss() ? 1f : 0f);
            mark(p.tokens().length);
            len += p.tokens().length;
        }
    }

    /** Labels the next {@code n} positions with the current sample and source. */
    private void mark(int n) {
        Arrays.fill(segment, len, len + n, segmentId);
        Arrays.fill(source, len, len + n, sourceId);
    }

    /** Closes the current row; false when that completed the batch (no new row is started). */
    private boolean newRow() {
        finishRow();
        if (rows.size() == c.batchSize()) {
            return false;
        }
        resetRow();
        return true;
    }

    private void finishRow() {
        rows.add(new Row(buf, mask, slots, segment, source));
    }

    private void resetRow() {
        buf = new long[c.seqLen() + 1];
        Arrays.fill(buf, padId);
        mask = new float[c.seqLen() + 1];
        slots = new ArrayList<>();
        segment = new int[c.seqLen() + 1];
        Arrays.fill(segment, -1);
        source = new byte[c.seqLen() + 1];
        Arrays.fill(source, (byte) -1);
        segmentId = 0; // a sample continued from the previous row is document 0 of this one
        len = 0;
    }

    private Batch build(MixtureSampler.Cursor cursor) {
        int b = rows.size();
        int t = c.seqLen();
        long[] tokens = new long[b * t];
        long[] targets = new long[b * t];
        float[] loss = new float[b * t];
        int[] segments = new int[b * t];
        byte[] sources = new byte[b * t];
        List<Batch.ImageSlot> images = new ArrayList<>();
        for (int r = 0; r < b; r++) {
            Row row = rows.get(r);
            System.arraycopy(row.buf(), 0, tokens, r * t, t);
            System.arraycopy(row.segment(), 0, segments, r * t, t);
            System.arraycopy(row.source(), 0, sources, r * t, t);
            System.arraycopy(row.buf(), 1, targets, r * t, t); // targets = tokens shifted left by one
            System.arraycopy(row.mask(), 1, loss, r * t, t);
            images.addAll(row.slots());
        }
        return new Batch(b, t, tokens, targets, loss, List.copyOf(images), c.imageTokens(), cursor, segments, sources);
    }
}
