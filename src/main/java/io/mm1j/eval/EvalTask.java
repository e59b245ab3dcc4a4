package io.mm1j.eval;

import io.mm1j.Mm1Exception;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The benchmarks {@code mm1 eval} runs (MM1 §4, MM1_SPEC.md §4), grouped by how they are prompted and scored.
 * Each task fixes its default answer-length cap: captions run to about 30 tokens (COCO captions average ~10 words),
 * VQA answers are one to three words, so 10 tokens is ample and stops a rambling model early.
 */
public enum EvalTask {
    COCO_CAPTIONS("coco-captions", Kind.CAPTION),
    NOCAPS("nocaps", Kind.CAPTION),
    TEXTCAPS("textcaps", Kind.CAPTION),
    VQAV2("vqav2", Kind.VQA),
    OKVQA("okvqa", Kind.VQA),
    TEXTVQA("textvqa", Kind.VQA),
    VIZWIZ("vizwiz", Kind.VQA),
    GQA("gqa", Kind.VQA),
    MC("mc", Kind.MULTIPLE_CHOICE),
    TEXT("text", Kind.TEXT);

    /** How a task is prompted and scored. */
    public enum Kind { CAPTION, VQA, MULTIPLE_CHOICE, TEXT }

    private final String cliName;
    private final Kind kind;

    EvalTask(String cliName, Kind kind) {
        this.cliName = cliName;
        this.kind = kind;
    }

    public String cliName() {
        return cliName;
    }

    public Kind kind() {
        return kind;
    }

    /** Default cap on generated tokens: captions ~30, short answers 10, an option letter 5. */
    public int defaultMaxNewTokens() {
        return switch (kind) {
            case CAPTION -> 30;
            case VQA -> 10;
            case MULTIPLE_CHOICE -> 5;
            case TEXT -> 0;
        };
    }

    public static EvalTask parse(String name) {
        for (EvalTask t : values()) {
            if (t.cliName.equals(name)) {
                return t;
            }
        }
        throw new Mm1Exception("unknown --task '" + name + "' (one of " + names() + ")");
    }

    public static String names() {
        return Arrays.stream(values()).map(EvalTask::cliName).collect(Collectors.joining(", "));
    }
}
