package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.mm1j.Mm1Exception;
import io.mm1j.data.MixtureSampler;
import io.mm1j.data.Sample;
import io.mm1j.encoder.EncoderModel;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Function;

/**
 * Batches of image-caption pairs for {@code mm1 clip}: each training step draws {@code batch} pairs from the
 * mixture; an image with several captions contributes one, picked by a hash of (seed, step, row) — CLIP trains on
 * one caption per image per step — and AIM's prefix lengths are drawn the same way, so a batch is a pure function
 * of the data cursor and the step (exact resume). Captions are tokenised as {@code [BOS] tokens [EOS]}, cut to the
 * text context, padded after [EOS].
 */
final class PairBatches {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PairBatches.class);

    /** One step's pairs: pixels (B, 3, S, S) row-major, ids (B, C), the [EOS] position of each row, AIM prefixes. */
    record Batch(int size, float[] pixels, long[] tokens, long[] eosPositions, int context, int[] prefix) {
        NDArray ids(NDManager m) {
            return m.create(tokens, new Shape(size, context));
        }

        NDArray eos(NDManager m) {
            return m.create(eosPositions, new Shape(size));
        }
    }

    /**
     * Held-out pairs: the first images of the validation split with all their captions; {@code textImage[j]} is
     * the image of caption j and {@code first[i]} image i's first caption.
     */
    record Held(int images, float[] pixels, long[] tokens, long[] eosPositions, int context, int[] textImage,
                int[] first) {}

    private final MixtureSampler sampler;
    private final Function<BufferedImage, float[]> pixels;
    private final Tokenizer tok;
    private final EncoderModel.Config cfg;
    private final long seed;
    private final int batch;
    /**
     * Preprocessed pixels of images already seen, up to {@link #CACHE_BYTES}: later epochs skip decoding and the
     * PIL-exact resize (a pure function of the file, so the batches stay the same with or without the cache).
     */
    private final java.util.Map<String, float[]> cache = new java.util.HashMap<>();
    private long cachedBytes;
    private long failed;

    /** Pixel cache budget: 512 MiB holds 10k images at 64 px, 1.1k at 224 px. */
    static final long CACHE_BYTES = 512L << 20;

    PairBatches(MixtureSampler sampler, Function<BufferedImage, float[]> pixels, Tokenizer tok, EncoderModel.Config cfg,
                long seed, int batch) {
        this.sampler = sampler;
        this.pixels = pixels;
        this.tok = tok;
        this.cfg = cfg;
        this.seed = seed;
        this.batch = batch;
    }

    /** The pairs of optimizer step {@code step} (1-based). */
    Batch next(long step) {
        int s = cfg.vision().imageSize();
        int per = 3 * s * s;
        int context = context(cfg);
        float[] px = new float[batch * per];
        long[] ids = new long[batch * context];
        long[] eos = new long[batch];
        int[] prefix = new int[batch];
        int patches = cfg.vision().numPatches();
        for (int r = 0; r < batch; r++) {
            Sample.Caption c = nextPair();
            float[] p = decode(c);
            while (p == null) {
                c = nextPair();
                p = decode(c);
            }
            System.arraycopy(p, 0, px, r * per, per);
            String caption = c.captions().get(draw(seed, step, r, c.captions().size()));
            eos[r] = encode(tok, caption, context, ids, r * context);
            prefix[r] = 1 + draw(seed ^ 0x41494DL, step, r, patches - 1); // K ∈ [1, P−1] (AIM §3)
        }
        return new Batch(batch, px, ids, eos, context, prefix);
    }

    long failedSamples() {
        return failed;
    }

    private Sample.Caption nextPair() {
        Sample s = sampler.next();
        if (s instanceof Sample.Caption c) {
            return c;
        }
        throw new Mm1Exception("encoder pre-training reads image-text pairs; source '" + sampler.lastSourceName()
                + "' yielded a " + s.getClass().getSimpleName() + " sample (" + s.id() + ")");
    }

    /** Pixels of a pair's image, or null (counted, logged) when the image cannot be decoded: the pair is skipped. */
    private float[] decode(Sample.Caption c) {
        String key = c.id() + "\u0000" + c.image().name();
        float[] hit = cache.get(key);
        if (hit != null) {
            return hit;
        }
        try {
            float[] p = pixels.apply(c.image().load());
            if (cachedBytes + 4L * p.length <= CACHE_BYTES) {
                cache.put(key, p);
                cachedBytes += 4L * p.length;
            }
            return p;
        } catch (Mm1Exception e) {
            failed++;
            LOG.warn("skipping pair {}: {}", c.id(), e.getMessage());
            return null;
        }
    }

    /** The text context the batches use: {@code model.text.context} (CLIP), or 2 (AIM reads no text). */
    static int context(EncoderModel.Config cfg) {
        return cfg.text() != null ? cfg.text().context() : 2;
    }

    /**
     * Writes {@code [BOS] tokens [EOS] [PAD]…} of {@code caption} into {@code out} at {@code offset} (cut to
     * {@code context}, [EOS] kept last); returns the [EOS] position.
     */
    static int encode(Tokenizer tok, String caption, int context, long[] out, int offset) {
        long[] t = tok.encode(caption);
        int n = Math.min(t.length, context - 2);
        out[offset] = id(tok, SpecialTokens.BOS, SpecialTokens.BOS_ID);
        System.arraycopy(t, 0, out, offset + 1, n);
        long pad = id(tok, SpecialTokens.PAD, SpecialTokens.PAD_ID);
        out[offset + 1 + n] = id(tok, SpecialTokens.EOS, SpecialTokens.EOS_ID);
        for (int i = n + 2; i < context; i++) {
            out[offset + i] = pad;
        }
        return n + 1;
    }

    private static long id(Tokenizer tok, String token, int fallback) {
        int id = tok.specialId(token);
        return id >= 0 ? id : fallback;
    }

    /** A uniform draw from [0, n) as a pure function of (seed, step, row) (splitmix64). */
    static int draw(long seed, long step, int row, int n) {
        long z = io.mm1j.data.SplitMix64.mix(seed * 0x9E3779B97F4A7C15L + step * 0xBF58476D1CE4E5B9L
                + (row + 1) * 0x94D049BB133111EBL);
        return (int) Math.floorMod(z, (long) n);
    }

    /** The first {@code pairs} images of the sources' validation splits (shared evenly), all captions each. */
    static Held held(List<RunData.Source> sources, Function<BufferedImage, float[]> pixels, Tokenizer tok,
                     EncoderModel.Config cfg, int pairs) {
        int s = cfg.vision().imageSize();
        int context = context(cfg);
        List<float[]> images = new ArrayList<>();
        List<long[]> texts = new ArrayList<>();
        List<Long> eos = new ArrayList<>();
        List<Integer> textImage = new ArrayList<>();
        List<Integer> first = new ArrayList<>();
        int per = (pairs + sources.size() - 1) / sources.size();
        for (RunData.Source src : sources) {
            Iterator<Sample> it = src.val().get();
            try {
                int taken = 0;
                while (taken < per && images.size() < pairs && it.hasNext()) {
                    if (!(it.next() instanceof Sample.Caption c)) {
                        continue;
                    }
                    float[] p;
                    try {
                        p = pixels.apply(c.image().load());
                    } catch (Mm1Exception e) {
                        LOG.warn("held-out pair {} skipped: {}", c.id(), e.getMessage());
                        continue;
                    }
                    first.add(texts.size());
                    for (String caption : c.captions()) {
                        long[] ids = new long[context];
                        eos.add((long) encode(tok, caption, context, ids, 0));
                        texts.add(ids);
                        textImage.add(images.size());
                    }
                    images.add(p);
                    taken++;
                }
            } finally {
                RunData.closeQuietly(it);
            }
        }
        if (images.size() < 2) {
            throw new Mm1Exception("held-out pairs: the validation split has " + images.size() + " usable image(s); "
                    + "retrieval needs at least 2 (more data, or a larger data.val_fraction)");
        }
        int per3 = 3 * s * s;
        float[] px = new float[images.size() * per3];
        for (int i = 0; i < images.size(); i++) {
            System.arraycopy(images.get(i), 0, px, i * per3, per3);
        }
        long[] ids = new long[texts.size() * context];
        long[] e = new long[texts.size()];
        int[] ti = new int[texts.size()];
        for (int j = 0; j < texts.size(); j++) {
            System.arraycopy(texts.get(j), 0, ids, j * context, context);
            e[j] = eos.get(j);
            ti[j] = textImage.get(j);
        }
        return new Held(images.size(), px, ids, e, context, ti, first.stream().mapToInt(Integer::intValue).toArray());
    }
}
