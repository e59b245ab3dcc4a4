# -*- coding: utf-8 -*-
"""Reference figures for VqaOfficialParityTest, from the official VQA evaluation run unmodified.

Usage (Python 2.7, which the official code needs: it uses print statements):
    git clone https://github.com/GT-Vision-Lab/VQA && cd VQA
    git worktree add ../VQA-a013f00 a013f00   # today's official code (2021, "Fixed processing answers bug")
    git worktree add ../VQA-458a8b2 458a8b2   # the legacy code (last change before a013f00)
    python2.7 make_reference.py ../VQA-a013f00 ../VQA-458a8b2 OUT_DIR

Writes OUT_DIR/{questions,annotations,results}.json (the hand-made cases below) and OUT_DIR/expected.json with,
per code version, VQAEval.accuracy and VQAEval.evalQA. Each case says which rule it exercises.
"""
import json
import os
import sys


def answers(*texts):
    return [{"answer": t, "answer_confidence": "yes", "answer_id": i + 1} for i, t in enumerate(texts)]


def ten(answer, times, filler="zzz%d"):
    return answers(*([answer] * times + [filler % i for i in range(10 - times)]))


# (prediction, human answers, answer_type, question_type, rule)
CASES = [
    (u"Yes", answers(*[u"yes"] * 10), "yes/no", "is the", "identical humans: nothing normalised (official)"),
    (u"yes", answers(*[u"Yes"] * 10), "yes/no", "is the", "identical humans are compared as written"),
    (u"yes.", ten(u"yes", 9), "yes/no", "is the", "humans differ: prediction normalised, period stripped"),
    (u"two", ten(u"two", 5), "number", "how many", "number words: both sides become digits (official)"),
    (u"2", ten(u"Two", 4), "number", "how many", "capitalised number word on the human side"),
    (u"dog", answers(*[u"dog\n"] * 10), "other", "what is", "humans are stripped before the identical check"),
    (u" dog\t", ten(u"dog", 3), "other", "what is", "tab and spaces around the prediction"),
    (u"1,000 (about)", ten(u"1000 about", 4), "number", "how many", "digit-comma-digit: all punctuation deleted"),
    (u"red-white", ten(u"red white", 4), "other", "what color", "hyphen between words becomes a space"),
    (u"red - white", ten(u"red white", 4), "other", "what color", "hyphen touching a space is deleted"),
    (u"a.b.c", ten(u"abc", 4), "other", "what is", "periods not before a digit are deleted"),
    (u"3.5", ten(u"3.5", 4), "number", "what is", "a period before a digit stays"),
    (u"x." * 40, ten(u"x" * 32 + u"x." * 8, 4), "other", "what is", "at most 32 periods (re.UNICODE as count)"),
    (u"dont", ten(u"don't", 4), "other", "what is", "contraction gets its apostrophe"),
    (u"Im", ten(u"im", 4), "other", "what is", "capitalised table keys never match"),
    (u"none", ten(u"0", 4), "number", "how many", "none becomes 0"),
    (u"the dog", ten(u"a dog", 4), "other", "what is", "articles dropped on both sides"),
    (u"red\u180e", ten(u"red", 4), "other", "what color", "U+180E is whitespace in Python 2"),
    (u"red\u00a0", ten(u"red", 4), "other", "what color", "U+00A0 is whitespace"),
    (u"\u0130stanbul", ten(u"istanbul", 4), "other", "what is", "Python 2 lower: one code point to one"),
    (u"\u13a0", ten(u"\u13a0", 4), "other", "what is", "no lower case for Cherokee in Unicode 5.2"),
    (u"1.\u0661", ten(u"1\u0661", 4), "number", "what is", "\\d is ASCII only in Python 2"),
    (u"cat", [{"answer": u"cat", "answer_confidence": "yes", "answer_id": 1},
              {"answer": u"cat", "answer_confidence": "yes", "answer_id": 1.0},
              {"answer": u"cat", "answer_confidence": "yes", "answer_id": 3}] + answers(*[u"q%d" % i for i in range(7)]),
     "other", "what is", "equal answer objects (1 == 1.0) leave the others together"),
    (u"cat", ten(u"cat", 3), "other", "what is", "three humans agree: 0.9"),
    (u"cat", ten(u"cat", 2), "other", "what is", "two humans agree: 0.6"),
    (u"cat", ten(u"cat", 1), "other", "what is", "one human agrees: 0.3"),
]
# 47 questions scoring 0 and one scoring 0.3 in one question type: 100*0.3/48 = 0.625 exactly, a rounding tie
TIE = [(u"cat", ten(u"cat", 1) if i == 0 else ten(u"dog", 10), "tie", "tie type", "rounding tie 0.625")
       for i in range(48)]


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, sort_keys=True)  # ASCII with \u escapes: the same text on every platform
        f.write("\n")


def main(official_dir, legacy_dir, out):
    questions, annotations, results = [], [], []
    for i, (pred, humans, atype, qtype, rule) in enumerate(CASES + TIE):
        qid = 1000 + i
        questions.append({"question_id": qid, "image_id": 1, "question": rule})
        annotations.append({"question_id": qid, "image_id": 1, "answer_type": atype, "question_type": qtype,
                            "multiple_choice_answer": humans[0]["answer"], "answers": humans})
        results.append({"question_id": qid, "answer": pred})
    meta = {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "val2014",
            "license": {}}
    q = dict(meta, questions=questions)
    write(os.path.join(out, "questions.json"), q)
    write(os.path.join(out, "annotations.json"), dict(meta, annotations=annotations))
    write(os.path.join(out, "results.json"), results)
    expected = {}
    for name, root in (("official", official_dir), ("legacy", legacy_dir)):
        sys.path[:0] = [os.path.join(root, "PythonHelperTools", "vqaTools"),
                        os.path.join(root, "PythonEvaluationTools")]
        for m in ("vqa", "vqaEvaluation", "vqaEvaluation.vqaEval"):
            sys.modules.pop(m, None)
        from vqa import VQA
        from vqaEvaluation.vqaEval import VQAEval
        vqa = VQA(os.path.join(out, "annotations.json"), os.path.join(out, "questions.json"))
        res = vqa.loadRes(os.path.join(out, "results.json"), os.path.join(out, "questions.json"))
        ev = VQAEval(vqa, res, n=2)
        ev.evaluate()
        expected[name] = {"accuracy": ev.accuracy, "evalQA": dict((str(k), v) for k, v in ev.evalQA.items())}
        del sys.path[:2]
    write(os.path.join(out, "expected.json"), expected)


if __name__ == "__main__":
    main(*sys.argv[1:4])
