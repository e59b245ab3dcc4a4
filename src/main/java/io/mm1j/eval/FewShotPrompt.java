package io.mm1j.eval;

import io.mm1j.Mm1Exception;
import java.util.ArrayList;
import java.util.List;

/**
 * MM1-style interleaved few-shot prompts (MM1 §4: "&lt;image&gt; answer &lt;image&gt; answer … &lt;image&gt;"):
 * BOS, then per demonstration its picture as k {@code <image>} ids followed by its text, then the query's picture
 * and its open text. Text segments are tokenised one by one and image slots are inserted as ids, never by
 * tokenising the string "&lt;image&gt;", so the layout does not depend on how a tokenizer treats special tokens.
 *
 * <p>Templates ({@code {image}} = k placeholder ids; the answer the model writes follows the query text):
 * <pre>
 * caption   demo: {image}{caption}\n                                query: {image}
 * vqa       demo: {image}Question: {q} Short answer: {a}\n          query: {image}Question: {q} Short answer:
 * mc        demo: {image}Question: {q}\nA. {o1}\nB. {o2}…\nAnswer: {L}\n   query: … Answer:
 * </pre>
 * The "Short answer:" cue follows Flamingo/MM1-style VQA prompting; the newline after each demonstration is what
 * the stop rule ends an answer on.
 */
public final class FewShotPrompt {
    /** The template, as recorded in scores.json. */
    public static String template(EvalTask.Kind kind) {
        return switch (kind) {
            case CAPTION -> "{image}{caption}\\n … {image}";
            case VQA -> "{image}Question: {question} Short answer: {answer}\\n … {image}Question: {question} "
                    + "Short answer:";
            case MULTIPLE_CHOICE -> "{image}Question: {question}\\nA. {option}\\nB. {option}…\\nAnswer: {letter}\\n"
                    + " … {image}Question: {question}\\nA. {option}…\\nAnswer:";
            case TEXT -> "BOS + text window";
        };
    }

    /** Turns text into token ids (the model's tokenizer; tests pass a hand-made one). */
    @FunctionalInterface
    public interface TextEncoder {
        long[] encode(String text);
    }

    /**
     * A built prompt.
     *
     * @param ids   BOS, image placeholders and text tokens
     * @param text  the same prompt as readable text, each image written {@code <image>} (for --log-samples)
     * @param demos the demonstrations actually used, in prompt order (the farthest are dropped first when the
     *              prompt does not fit the context)
     */
    public record Prompt(long[] ids, String text, List<EvalExample> demos) {}

    private final EvalTask.Kind kind;
    private final TextEncoder encoder;
    private final int imageTokens;
    private final java.util.function.ToIntFunction<EvalExample> tokensOf;
    private final int bosId;
    private final int imageId;

    /**
     * @param imageTokens k placeholders per image (0 for a text-only model: then prompts carry no images)
     */
    public FewShotPrompt(EvalTask.Kind kind, TextEncoder encoder, int imageTokens, int bosId, int imageId) {
        this(kind, encoder, imageTokens, e -> imageTokens, bosId, imageId);
    }

    /**
     * Pictures of different token counts (LLaVA-NeXT): {@code tokensOf} gives each example's picture its count.
     *
     * @param imageTokens nonzero for a multimodal model
     */
    public FewShotPrompt(EvalTask.Kind kind, TextEncoder encoder, int imageTokens,
                         java.util.function.ToIntFunction<EvalExample> tokensOf, int bosId, int imageId) {
        this.kind = kind;
        this.encoder = encoder;
        this.imageTokens = imageTokens;
        this.tokensOf = tokensOf;
        this.bosId = bosId;
        this.imageId = imageId;
    }

    private int tokens(EvalExample e) {
        return imageTokens == 0 ? 0 : tokensOf.applyAsInt(e);
    }

    /** The text after a demonstration's picture (with its answer). */
    public String demoText(EvalExample e) {
        return switch (kind) {
            case CAPTION -> e.answer() + "\n";
            case VQA -> "Question: " + e.question() + " Short answer: " + e.answer() + "\n";
            case MULTIPLE_CHOICE -> MultipleChoice.body(e) + " " + e.answer() + "\n";
            case TEXT -> throw new IllegalStateException("text evaluation has no prompts");
        };
    }

    /** The text after the query's picture (the model continues it). */
    public String queryText(EvalExample e) {
        return switch (kind) {
            case CAPTION -> "";
            case VQA -> "Question: " + e.question() + " Short answer:";
            case MULTIPLE_CHOICE -> MultipleChoice.body(e);
            case TEXT -> throw new IllegalStateException("text evaluation has no prompts");
        };
    }

    /**
     * Builds the prompt for {@code query} after {@code demos}, dropping demonstrations from the front (the farthest
     * from the query) until it leaves {@code reserve} positions of {@code maxPositions} for the answer.
     */
    public Prompt build(List<EvalExample> demos, EvalExample query, int maxPositions, int reserve) {
        List<long[]> segments = new ArrayList<>();
        for (EvalExample d : demos) {
            segments.add(encoder.encode(demoText(d)));
        }
        String q = queryText(query);
        long[] queryIds = q.isEmpty() ? new long[0] : encoder.encode(q);
        int first = 0;
        int length = 1 + tokens(query) + queryIds.length;
        for (int d = 0; d < demos.size(); d++) {
            length += tokens(demos.get(d)) + segments.get(d).length;
        }
        while (length + reserve > maxPositions && first < demos.size()) {
            length -= tokens(demos.get(first)) + segments.get(first).length;
            first++;
        }
        if (length + reserve > maxPositions) {
            throw new Mm1Exception("query " + query.id() + ": the prompt (" + length + " tokens) plus "
                    + reserve + " answer tokens does not fit the model's maxPositions " + maxPositions);
        }
        long[] ids = new long[length];
        int j = 0;
        ids[j++] = bosId;
        StringBuilder text = new StringBuilder();
        for (int d = first; d < demos.size(); d++) {
            j = image(ids, j, text, tokens(demos.get(d)));
            j = copy(segments.get(d), ids, j);
            text.append(demoText(demos.get(d)));
        }
        j = image(ids, j, text, tokens(query));
        copy(queryIds, ids, j);
        text.append(q);
        return new Prompt(ids, text.toString(), List.copyOf(demos.subList(first, demos.size())));
    }

    private int image(long[] ids, int j, StringBuilder text, int k) {
        j = io.mm1j.mllm.ImageSlots.fill(ids, j, k, imageId);
        if (k > 0) {
            text.append("<image>");
        }
        return j;
    }

    private static int copy(long[] src, long[] dst, int j) {
        System.arraycopy(src, 0, dst, j, src.length);
        return j + src.length;
    }
}
