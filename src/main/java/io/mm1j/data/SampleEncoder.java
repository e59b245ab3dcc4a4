package io.mm1j.data;

import io.mm1j.tokenizer.SpecialTokens;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Turns a {@link Sample} into tokenised pieces with decoded, preprocessed images — the expensive per-sample work,
 * run on the prefetch workers. Layouts (MM1 §2; ids from {@link SpecialTokens}):
 * <pre>
 * caption       BOS image caption EOS
 * interleaved   BOS text image text … EOS        (reading order)
 * text          BOS text EOS
 * conversation  BOS image? (&lt;|role|&gt; text &lt;|end|&gt;)* EOS   loss on assistant turns only
 * vqa           BOS image "Question: q Answer:" " a" EOS     loss on the answer only
 * </pre>
 * Text is encoded without special tokens, and any {@code <image>} id the text itself produces (a web page that
 * contains the literal string) is dropped, so image slots come only from real images.
 */
public final class SampleEncoder {
    /** Text → token ids (e.g. {@code io.mm1j.tokenizer.Tokenizer::encode}). */
    @FunctionalInterface
    public interface TextEncoder {
        long[] encode(String text);
    }

    /** A tokenised piece: text ids, or one image's pixels; {@code loss} says whether its tokens are targets. */
    public record Piece(long[] tokens, float[] image, boolean loss) {
        public boolean isImage() {
            return image != null;
        }
    }

    /**
     * A prepared sample with the sampler cursors before and after it (for exact resume at batch boundaries) and the
     * index of the mixture source it came from (-1 when unknown), so losses can be reported per source.
     */
    public record Prepared(List<Piece> pieces, boolean atomic, MixtureSampler.Cursor before,
                           MixtureSampler.Cursor after, int source) {
        public Prepared(List<Piece> pieces, boolean atomic, MixtureSampler.Cursor before, MixtureSampler.Cursor after) {
            this(pieces, atomic, before, after, -1);
        }

        /** The same sample attributed to mixture source {@code index}. */
        public Prepared withSource(int index) {
            return new Prepared(pieces, atomic, before, after, index);
        }

        /**
         * A sample that failed to prepare (corrupt image, …): it contributes no tokens but keeps the cursors, so the
         * stream and its resume points stay exactly as if it had been read.
         */
        public static Prepared skipped(MixtureSampler.Cursor before, MixtureSampler.Cursor after, int source) {
            return new Prepared(List.of(), false, before, after, source);
        }
    }

    /**
     * Formats conversations (SFT) as a model's chat template lays them out, with the loss on assistant tokens
     * ({@code mllm.ChatTemplateEncoder}); without one, the built-in layout above is used.
     */
    @FunctionalInterface
    public interface ConversationEncoder {
        /** The conversation's pieces; {@code image} decodes and preprocesses one image into its piece. */
        List<Piece> encode(Sample.Conversation c, Function<ImageRef, Piece> image);
    }

    private final TextEncoder encoder;
    private final Function<BufferedImage, float[]> imageFn;
    private final SpecialTokens.Ids ids;
    private ConversationEncoder conversations;
    /** Train on one of a picture's captions per visit (drawn from the sampler step) instead of always the first. */
    private boolean captionPerVisit;
    /** The SHA-256 of this encoder's tokenizer.json, or null: which {@link Sample.Pretokenized} ids it may use. */
    private String tokenizerSha256;
    /** True: image pieces carry no pixels and no file is read ({@link #layoutOnly}). */
    private boolean layoutOnly;

    /**
     * A copy of this encoder that lays samples out without reading their images: every image piece holds an empty
     * pixel array. Token counts and loss masks are the training layout's, for checks that only need lengths
     * (which targets survive truncation) at a fraction of the cost.
     */
    public SampleEncoder layoutOnly() {
        SampleEncoder e = new SampleEncoder(encoder, imageFn, ids).withConversations(conversations)
                .withTokenizer(tokenizerSha256).withCaptionPerVisit(captionPerVisit);
        e.layoutOnly = true;
        return e;
    }

    /**
     * Lets this encoder take the token ids of {@link Sample.Pretokenized} samples made by the tokenizer whose
     * tokenizer.json has this SHA-256 (as {@code mm1 data shard} records it); returns this.
     */
    public SampleEncoder withTokenizer(String sha256) {
        this.tokenizerSha256 = sha256;
        return this;
    }

    /** Formats conversations with {@code c} (null: the built-in layout); returns this. */
    public SampleEncoder withConversations(ConversationEncoder c) {
        this.conversations = c;
        return this;
    }

    /**
     * With {@code on}, a caption sample trains on one of its captions per visit — drawn by a hash of the mixture
     * step it was read at, so the choice is a pure function of the data cursor (exact resume) — instead of always
     * its first: every reference of a COCO-style picture (five per image) becomes a target over the epochs, as
     * captioning models are trained on COCO. Samples prepared without a cursor keep the first caption. Returns this.
     */
    public SampleEncoder withCaptionPerVisit(boolean on) {
        this.captionPerVisit = on;
        return this;
    }

    /** The index of the caption a caption sample trains on ({@link #withCaptionPerVisit}). */
    int captionIndex(Sample.Caption c, MixtureSampler.Cursor before) {
        int n = c.captions().size();
        if (!captionPerVisit || before == null || n == 1) {
            return 0;
        }
        long z = SplitMix64.mix((before.step() + 1) * 0x9E3779B97F4A7C15L); // splitmix64 of the step
        return (int) Math.floorMod(z, (long) n);
    }

    /** @param imageFn image → CHW floats (the vision encoder's preprocessing; see {@link #resizeToUnit}) */
    public SampleEncoder(TextEncoder encoder, Function<BufferedImage, float[]> imageFn) {
        this(encoder, imageFn, SpecialTokens.Ids.FIXED);
    }

    /** @param ids the tokenizer's special ids by role (BOS, EOS, chat markers written here) */
    public SampleEncoder(TextEncoder encoder, Function<BufferedImage, float[]> imageFn, SpecialTokens.Ids ids) {
        this.encoder = encoder;
        this.imageFn = imageFn;
        this.ids = ids;
    }

    /**
     * The default preprocessing hook: bilinear resize to size×size and scale to [0, 1], CHW. The vision package's
     * CLIP preprocessor (resize + centre crop + mean/std) replaces it for real training.
     */
    public static Function<BufferedImage, float[]> resizeToUnit(int size) {
        return img -> {
            BufferedImage r = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = r.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(img, 0, 0, size, size, null);
            g.dispose();
            int[] rgb = r.getRGB(0, 0, size, size, null, 0, size);
            int plane = size * size;
            float[] chw = new float[3 * plane]; // (3, H, W)
            for (int p = 0; p < plane; p++) {
                chw[p] = ((rgb[p] >> 16) & 0xFF) / 255f;
                chw[plane + p] = ((rgb[p] >> 8) & 0xFF) / 255f;
                chw[2 * plane + p] = (rgb[p] & 0xFF) / 255f;
            }
            return chw;
        };
    }

    public Prepared prepare(Sample s, MixtureSampler.Cursor before, MixtureSampler.Cursor after) {
        if (s instanceof Sample.Pretokenized p) {
            // The ids were recorded by this very method (its text pieces, in order) with the tokenizer p names; a
            // chat template lays conversations out differently, so there the text is encoded again.
            boolean usable = p.tokenizer().equals(tokenizerSha256)
                    && !(p.sample() instanceof Sample.Conversation && conversations != null);
            if (!usable) {
                return prepare(p.sample(), before, after);
            }
            java.util.Iterator<long[]> recorded = p.pieces().iterator();
            SampleEncoder replay = new SampleEncoder(text -> {
                if (!recorded.hasNext()) {
                    throw new io.mm1j.Mm1Exception(p.id() + ": pretokenized sample has fewer token pieces than text "
                            + "pieces");
                }
                return recorded.next();
            }, imageFn, ids).withConversations(conversations);
            replay.layoutOnly = layoutOnly;
            Prepared out = replay.prepare(p.sample(), before, after);
            if (recorded.hasNext()) {
                throw new io.mm1j.Mm1Exception(p.id() + ": pretokenized sample has more token pieces than text pieces");
            }
            return out;
        }
        List<Piece> out = new ArrayList<>();
        out.add(special(ids.bos(), false));
        boolean atomic = false;
        if (s instanceof Sample.Caption c) {
            out.add(image(c.image()));
            out.add(text(c.captions().get(captionIndex(c, before)), true));
            atomic = true; // an image without its caption teaches nothing: never split
        } else if (s instanceof Sample.Interleaved d) {
            for (Sample.Part p : d.parts()) {
                out.add(p.image() != null ? image(p.image()) : text((out.size() > 1 ? " " : "") + p.text(), true));
            }
        } else if (s instanceof Sample.Text t) {
            out.add(text(t.text(), true));
        } else if (s instanceof Sample.Conversation c && conversations != null) {
            return new Prepared(conversations.encode(c, this::image), true, before, after);
        } else if (s instanceof Sample.Conversation c) {
            if (!ids.hasChatMarkers()) {
                throw new io.mm1j.Mm1Exception("a conversation needs a chat template or a tokenizer with mm1j's chat "
                        + "markers (" + SpecialTokens.ALL.subList(SpecialTokens.SYSTEM_ID, SpecialTokens.COUNT) + ")");
            }
            for (ImageRef im : c.images()) { // without a chat template: images first, tags dropped
                out.add(image(im));
            }
            for (Sample.Turn t : c.turns()) {
                boolean answer = t.role().equals("assistant");
                int marker = switch (t.role()) {
                    case "system" -> ids.system();
                    case "user" -> ids.user();
                    default -> ids.assistant();
                };
                out.add(special(marker, false));
                out.add(text(t.text().replace(Sample.Conversation.IMAGE_TAG, ""), answer));
                out.add(special(ids.endOfTurn(), answer));
            }
            atomic = true;
        } else if (s instanceof Sample.Vqa v) {
            out.add(image(v.image()));
            out.add(text("Question: " + v.question() + " Answer:", false));
            out.add(text(" " + (v.answer() != null ? v.answer() : ""), true));
            atomic = true;
        }
        out.add(special(ids.eos(), true));
        return new Prepared(List.copyOf(out), atomic, before, after);
    }

    private static Piece special(int id, boolean loss) {
        return new Piece(new long[] {id}, null, loss);
    }

    private Piece image(ImageRef ref) {
        return new Piece(null, layoutOnly ? new float[0] : imageFn.apply(ref.load()), false);
    }

    private Piece text(String t, boolean loss) {
        // Literal "<image>", "</s>", "<|assistant|>" … in web text would otherwise become control tokens (HF
        // matches added tokens even without special-token handling): drop every role id.
        long[] tokens = encoder.encode(t);
        if (Arrays.stream(tokens).anyMatch(ids::isReserved)) {
            tokens = Arrays.stream(tokens).filter(i -> !ids.isReserved(i)).toArray();
        }
        return new Piece(tokens, null, loss);
    }
}
