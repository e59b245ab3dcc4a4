package io.mm1j.data;

import java.util.List;
import java.util.Objects;

/**
 * One training/eval example as read from a dataset, before tokenisation. Each record mirrors one MM1 data type
 * (§2: captions, interleaved documents, text; §3: conversations; §4: VQA). Images are {@link ImageRef}s, decoded
 * only when the pipeline needs pixels, so a reader's memory stays bounded by one sample.
 */
public sealed interface Sample permits Sample.Caption, Sample.Interleaved, Sample.Text, Sample.Conversation,
        Sample.Vqa, Sample.Pretokenized {
    /** A stable id (dataset key), used in warnings and for de-duplication. */
    String id();

    /** An image with its reference captions (COCO keeps 5; web alt-text pairs have 1). */
    record Caption(String id, ImageRef image, List<String> captions) implements Sample {
        public Caption {
            Objects.requireNonNull(image, "image");
            if (captions.isEmpty()) {
                throw new IllegalArgumentException(id + ": a caption sample needs a caption");
            }
        }
    }

    /** A web document in reading order: text and images interleaved (OBELICS/mmc4). */
    record Interleaved(String id, List<Part> parts) implements Sample {
        public long imageCount() {
            return parts.stream().filter(p -> p.image() != null).count();
        }
    }

    /** One piece of an interleaved document: exactly one of {@code text} and {@code image} is set. */
    record Part(String text, ImageRef image) {
        public Part {
            if ((text == null) == (image == null)) {
                throw new IllegalArgumentException("a part is either text or an image");
            }
        }

        public static Part text(String t) {
            return new Part(t, null);
        }

        public static Part image(ImageRef i) {
            return new Part(null, i);
        }
    }

    /** Text-only data. */
    record Text(String id, String text) implements Sample {}

    /**
     * A chat (LLaVA style) about zero or more images; roles are "system", "user", "assistant". Each image has one
     * {@link #IMAGE_TAG} in the turns' text, in order, anywhere in any turn.
     */
    record Conversation(String id, List<ImageRef> images, List<Turn> turns) implements Sample {
        /** The image placeholder in turn text (LLaVA's). */
        public static final String IMAGE_TAG = "<image>";

        public Conversation {
            images = List.copyOf(images);
            turns = List.copyOf(turns);
        }

        /** The first image, or null (single-image data). */
        public ImageRef image() {
            return images.isEmpty() ? null : images.get(0);
        }
    }

    record Turn(String role, String text) {}

    /** A VQAv2-style question with its (usually 10) human answers and the consensus answer. */
    record Vqa(String id, ImageRef image, String question, String answer, List<String> answers, String answerType)
            implements Sample {}

    /**
     * A sample with its text already tokenised ({@code mm1 data shard --model}): {@code pieces} are the token ids of
     * the text pieces in the order {@link SampleEncoder} encodes them, made by {@code tokenizer} (the SHA-256 of its
     * tokenizer.json). An encoder with that tokenizer uses the ids; any other encodes {@code sample}'s text.
     */
    record Pretokenized(Sample sample, String tokenizer, List<long[]> pieces) implements Sample {
        public Pretokenized {
            Objects.requireNonNull(sample, "sample");
            Objects.requireNonNull(tokenizer, "tokenizer");
            if (sample instanceof Pretokenized) {
                throw new IllegalArgumentException(sample.id() + ": already pretokenized");
            }
            pieces = List.copyOf(pieces);
        }

        @Override
        public String id() {
            return sample.id();
        }

        /** The plain sample of {@code s} (itself unless pretokenized). */
        public static Sample unwrap(Sample s) {
            return s instanceof Pretokenized p ? p.sample() : s;
        }
    }
}
