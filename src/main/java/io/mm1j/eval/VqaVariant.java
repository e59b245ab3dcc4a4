package io.mm1j.eval;

import io.mm1j.Mm1Exception;

/**
 * Which official VQA-style evaluation an accuracy follows; {@code scores.json} records it, because the variants
 * disagree on real answers (a "Yes" against ten "yes" scores 0 under {@link #OFFICIAL} and 1 under
 * {@link #LEGACY}).
 */
public enum VqaVariant {
    /**
     * GT-Vision-Lab/VQA {@code vqaEval.py} at a013f00 (2021-03-11, "Fixed processing answers bug"), the current
     * official code, run as it must be, by Python 2.7: human answers and prediction are cleaned
     * ({@code \n}/{@code \t} → space, strip); only when the human answers are not all identical do both go
     * through {@code processPunctuation} and {@code processDigitArticle}; annotators are told apart by comparing
     * their whole answer objects; figures ×100 rounded to 2 decimals half away from zero (Python 2's round).
     */
    OFFICIAL("official", "GT-Vision-Lab/VQA vqaEval.py @ a013f00 (2021-03-11)"),
    /**
     * The same file before a013f00 (last changed at 458a8b2, 2016-10-08), which many harnesses still copy: the
     * prediction is always cleaned and fully normalised; the human answers are not cleaned and get only
     * {@code processPunctuation}, and only when they are not all identical.
     */
    LEGACY("legacy", "GT-Vision-Lab/VQA vqaEval.py @ 458a8b2 (2016-10-08, before a013f00)"),
    /**
     * TextVQA: facebookresearch/mmf {@code mmf/utils/m4c_evaluators.py} {@code TextVQAAccuracyEvaluator} (file
     * last changed at 2dc099a, 2020-08-05), Python 3: prediction and every human answer always go through
     * {@code EvalAIAnswerProcessor} (its {@code word_tokenize}, then clean, punctuation, digits/articles);
     * exactly 10 human answers, told apart by position; the accuracy is the plain mean, not rounded.
     */
    TEXTVQA("textvqa", "facebookresearch/mmf m4c_evaluators.py TextVQAAccuracyEvaluator @ 2dc099a (2020-08-05)"),
    /**
     * VizWiz: the {@code vqaEval.py} of the VizWiz VQA challenge (vizwiz.org, by Qing Li), Python 3: the
     * prediction is cleaned and fully normalised (with its table of typographic apostrophes), the human answers
     * are compared as written, told apart by position; per answer type; Python 3 rounding (half to even).
     */
    VIZWIZ("vizwiz", "VizWiz VQA challenge vqaEval.py (vizwiz.org, Qing Li)");

    private final String cliName;
    private final String source;

    VqaVariant(String cliName, String source) {
        this.cliName = cliName;
        this.source = source;
    }

    public String cliName() {
        return cliName;
    }

    /** The official code this variant follows, for scores.json. */
    public String source() {
        return source;
    }

    /** Parses {@code official} or {@code legacy} (the VQAv2-format variants {@code --variant} offers). */
    public static VqaVariant parseVqav2(String name) {
        if (name.equals(OFFICIAL.cliName)) {
            return OFFICIAL;
        }
        if (name.equals(LEGACY.cliName)) {
            return LEGACY;
        }
        throw new Mm1Exception("--variant must be official or legacy, got '" + name + "'");
    }
}
