"""Reference CIDEr-D (and BLEU, ROUGE-L on the first 500 images) for EvalBenchTest: the captions of `mm1 bench eval` (EvalBench, seed 1234, 5,000 images x 5
references) scored by coco-caption's CIDEr-D as pycocoevalcap ships it (salaniz/pycocoevalcap ad63453; its
cider_scorer.py is tylin/coco-caption's, ported to Python 3).

Usage: python3 reference_cider.py PYCOCOEVALCAP_CHECKOUT > expected.json   (needs numpy)

The captions are rebuilt from java.util.Random's documented algorithm (48-bit LCG, nextInt(bound) with rejection),
so nothing of mm1j runs here. The grammar's captions hold only lower-case-able words, ", " and a final ".", which
the PTB tokenizer splits off and coco-caption then drops: lower-casing and deleting "," and "." gives the same words.
"""
import json
import sys

SUBJECTS = ["a man", "a woman", "two dogs", "a cat", "a group of people", "a young boy", "an old bus", "a red car",
            "a large elephant", "three birds", "a little girl", "a pizza"]
VERBS = ["is standing", "sitting", "riding", "playing", "is parked", "walking", "eating", "looking", "lying",
         "flying"]
PLACES = ["on a beach", "in a kitchen", "next to a table", "on the street", "in a field of grass", "near the water",
          "under a tree", "in front of a building", "on a snowy hill", "at the park", "in a living room",
          "on top of a wooden bench"]
EXTRAS = ["", "", " with a frisbee", " holding an umbrella", " at night", ", while people watch", " in the rain",
          " with a small white dog"]


class JavaRandom:
    MASK = (1 << 48) - 1

    def __init__(self, seed):
        self.seed = (seed ^ 0x5DEECE66D) & self.MASK

    def next(self, bits):
        self.seed = (self.seed * 0x5DEECE66D + 0xB) & self.MASK
        v = self.seed >> (48 - bits)
        return v - (1 << 32) if v >= (1 << 31) else v  # Java's (int) cast

    def next_int(self, bound):
        if bound & -bound == bound:
            return (bound * self.next(31)) >> 31
        while True:
            bits = self.next(31)
            val = bits % bound
            if bits - val + (bound - 1) < (1 << 31):  # no int overflow
                return val


def caption(rnd):
    s = (SUBJECTS[rnd.next_int(len(SUBJECTS))] + " " + VERBS[rnd.next_int(len(VERBS))] + " "
         + PLACES[rnd.next_int(len(PLACES))] + EXTRAS[rnd.next_int(len(EXTRAS))] + ".")
    return s[0].upper() + s[1:]


def words(c):
    return " ".join(c.lower().replace(",", " ").replace(".", " ").split())


def main(checkout, images=5000, refs=5, seed=1234):
    sys.path.insert(0, checkout)
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    rnd = JavaRandom(seed)
    gts, res = {}, {}
    for i in range(images):
        res[i] = [words(caption(rnd))]
        gts[i] = [words(caption(rnd)) for _ in range(refs)]
    score, _ = Cider().compute_score(gts, res)
    small = list(range(500))  # BLEU and ROUGE-L on the first 500 images
    bleu, _ = Bleu(4).compute_score(dict((i, gts[i]) for i in small), dict((i, res[i]) for i in small), verbose=0)
    rouge, _ = Rouge().compute_score(dict((i, gts[i]) for i in small), dict((i, res[i]) for i in small))
    print(json.dumps({"images": images, "refsPerImage": refs, "seed": seed, "cider": float(score),
                      "firstCandidate": res[0][0], "first500": {"Bleu": [float(b) for b in bleu],
                                                                "ROUGE_L": float(rouge)}}))


if __name__ == "__main__":
    main(sys.argv[1])
