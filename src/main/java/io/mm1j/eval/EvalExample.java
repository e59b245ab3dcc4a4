package io.mm1j.eval;

import java.nio.file.Path;
import java.util.List;

/**
 * One evaluation or demonstration item, whatever its native format: a captioned image, a question with its human
 * answers, or a multiple-choice question. Readers normalise every benchmark into this shape so that prompt
 * building, demonstration sampling and decoding are written once.
 *
 * @param id          the id the official results file uses (COCO image_id, VQA question_id, VizWiz image name,
 *                    GQA questionId, …), kept as the string the file had
 * @param imageKey    identifies the picture; a demonstration is never the query's picture
 * @param image       the image file
 * @param question    the question (null for captioning)
 * @param targets     reference captions, or the (usually ten) human answers, or the options of a multiple-choice
 *                    question
 * @param answer      the single answer a demonstration shows: the first reference caption, the consensus
 *                    answer, GQA's gold answer, or the correct option letter
 * @param answerType  VQA answer type or multiple-choice category (may be null)
 * @param questionType VQA question type (may be null)
 */
public record EvalExample(String id, String imageKey, Path image, String question, List<String> targets,
        String answer, String answerType, String questionType) {
    public EvalExample {
        targets = List.copyOf(targets);
    }
}
