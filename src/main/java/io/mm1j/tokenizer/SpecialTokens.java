package io.mm1j.tokenizer;

import java.util.List;

/**
 * mm1j's reserved special tokens and their fixed ids. Every tokenizer written by {@link BpeTrainer} puts them at
 * ids 0..{@value #COUNT}-1 in this order, so presets can name ids (the mini preset says BOS 1, EOS 2 — the Llama
 * convention) and a checkpoint's embedding rows keep their meaning across retrained tokenizers. Code that loads a
 * foreign tokenizer must still look them up by name ({@link Tokenizer#specialId(String)}).
 *
 * <p>{@link #IMAGE} marks one image slot: the {@code SequencePacker} repeats its id k times (k = the connector's
 * image token count) and the model overwrites those k positions with the connector's outputs.
 */
public final class SpecialTokens {
    /** Padding (never a training target). */
    public static final String PAD = "<pad>";
    /** Beginning of a document or a packed sample. */
    public static final String BOS = "<s>";
    /** End of a document / end of text; generation stops here. */
    public static final String EOS = "</s>";
    /** One image placeholder position (see the class comment). */
    public static final String IMAGE = "<image>";
    /** Chat role markers (SFT conversations): a turn is {@code <|role|>} text {@code <|end|>}. */
    public static final String SYSTEM = "<|system|>";
    public static final String USER = "<|user|>";
    public static final String ASSISTANT = "<|assistant|>";
    /** End of one chat turn. */
    public static final String END_OF_TURN = "<|end|>";

    public static final int PAD_ID = 0;
    public static final int BOS_ID = 1;
    public static final int EOS_ID = 2;
    public static final int IMAGE_ID = 3;
    public static final int SYSTEM_ID = 4;
    public static final int USER_ID = 5;
    public static final int ASSISTANT_ID = 6;
    public static final int END_OF_TURN_ID = 7;

    /** All reserved tokens, index = id. */
    public static final List<String> ALL = List.of(PAD, BOS, EOS, IMAGE, SYSTEM, USER, ASSISTANT, END_OF_TURN);
    public static final int COUNT = 8;

    private SpecialTokens() {}

    /**
     * The id of each role in one tokenizer. mm1j's own tokenizers have {@link #FIXED} (ids 0..7); a pretrained
     * LLM's tokenizer keeps its own ids for the tokens it has (its BOS and EOS are the model config's) and gets the
     * missing roles appended after its vocabulary, so the data path writes ids by role, never by constant.
     */
    public record Ids(int pad, int bos, int eos, int image, int system, int user, int assistant, int endOfTurn) {
        /** mm1j's reserved layout. */
        public static final Ids FIXED = new Ids(PAD_ID, BOS_ID, EOS_ID, IMAGE_ID, SYSTEM_ID, USER_ID, ASSISTANT_ID,
                END_OF_TURN_ID);

        /**
         * The roles of {@code tok}: BOS and EOS as the model config says ({@code bos}, {@code eos}), the others by
         * name ({@code <pad>}, {@code <image>}, chat markers).
         */
        public static Ids of(Tokenizer tok, int bos, int eos) {
            return of(tok, bos, eos, false);
        }

        /**
         * The roles of a run whose conversations a chat template lays out ({@code mm1 pretrain}, {@code mm1 sft}):
         * as {@link #of}, but the chat markers may be missing (-1), because the template writes its own turns. A
         * foreign tokenizer (a LLaVA folder's: {@code <image>} and {@code <pad>} after Llama's 32 000) has none.
         */
        public static Ids forChatTemplate(Tokenizer tok, int bos, int eos) {
            return of(tok, bos, eos, true);
        }

        private static Ids of(Tokenizer tok, int bos, int eos, boolean markersOptional) {
            int[] ids = new int[COUNT];
            for (int r = 0; r < COUNT; r++) {
                ids[r] = r == BOS_ID ? bos : r == EOS_ID ? eos : tok.specialId(ALL.get(r));
                if (markersOptional && r >= SYSTEM_ID && ids[r] < 0) {
                    continue;
                }
                if (ids[r] < 0 || ids[r] >= tok.vocabSize()) {
                    throw new io.mm1j.Mm1Exception(tok.file() + ": " + (r == BOS_ID || r == EOS_ID
                            ? "the model's " + (r == BOS_ID ? "BOS" : "EOS") + " id " + ids[r] + " is outside the "
                            + "vocabulary (" + tok.vocabSize() + ")" : "no special token " + ALL.get(r)
                            + (markersOptional ? " (mm1j's data path pads rows with <pad> and marks image slots "
                            + "with <image>)" : " (mm1j's data path needs every role; `mm1 pretrain` with "
                            + "model.llm.init appends the missing ones to an LLM's tokenizer)")));
                }
            }
            return new Ids(ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], ids[7]);
        }

        /** Whether the chat markers are all there (a conversation without a chat template needs them). */
        public boolean hasChatMarkers() {
            return system >= 0 && user >= 0 && assistant >= 0 && endOfTurn >= 0;
        }

        /** Whether {@code id} is one of the role ids (text never produces them: see SampleEncoder). */
        public boolean isReserved(long id) {
            return id == pad || id == bos || id == eos || id == image || id == system || id == user
                    || id == assistant || id == endOfTurn;
        }
    }

    /**
     * Checks that {@code tok} reserves every mm1j special token at its fixed id — the data pipeline writes these
     * ids directly — and that BOS/EOS agree with the model config. A Llama tokenizer with {@code <image>} appended
     * at 32000 would otherwise train on id 3 and be evaluated on id 32000.
     */
    public static void verify(Tokenizer tok, int configBos, int configEos) {
        for (int id = 0; id < COUNT; id++) {
            String name = ALL.get(id);
            int actual = tok.specialId(name);
            if (actual != id) {
                throw new io.mm1j.Mm1Exception(tok.file() + ": special token " + name + " must have id " + id
                        + " (mm1j's reserved layout), found " + (actual < 0 ? "none" : String.valueOf(actual)));
            }
        }
        if (configBos != BOS_ID || configEos != EOS_ID) {
            throw new io.mm1j.Mm1Exception(tok.file() + ": model config has bosTokenId " + configBos
                    + " / eosTokenId " + configEos + " but mm1j tokenizers use " + BOS_ID + " / " + EOS_ID);
        }
    }
}
