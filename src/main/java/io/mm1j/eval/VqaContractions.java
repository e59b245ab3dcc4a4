package io.mm1j.eval;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The contractions tables of the official evaluations: an answer word written without its apostrophe ("dont") is
 * compared as the contraction ("don't"). {@link #VQA} is the table of VQA's {@code vqaEval.py} (since 458a8b2,
 * 2016; MMF's TextVQA processor has the same one); {@link #VIZWIZ} is VizWiz's copy, in which most apostrophes
 * are typographic (U+2019), so its "dont" becomes "don’t" and only matches humans who typed that character.
 */
final class VqaContractions {
    private VqaContractions() {}

    private static final String[] PAIRS = {
            "aint", "ain't", "arent", "aren't", "cant", "can't", "couldve", "could've", "couldnt", "couldn't",
            "couldn'tve", "couldn't've", "couldnt've", "couldn't've", "didnt", "didn't", "doesnt", "doesn't",
            "dont", "don't", "hadnt", "hadn't", "hadnt've", "hadn't've", "hadn'tve", "hadn't've", "hasnt", "hasn't",
            "havent", "haven't", "hed", "he'd", "hed've", "he'd've", "he'dve", "he'd've", "hes", "he's",
            "howd", "how'd", "howll", "how'll", "hows", "how's", "Id've", "I'd've", "I'dve", "I'd've", "Im", "I'm",
            "Ive", "I've", "isnt", "isn't", "itd", "it'd", "itd've", "it'd've", "it'dve", "it'd've", "itll", "it'll",
            "let's", "let's", "maam", "ma'am", "mightnt", "mightn't", "mightnt've", "mightn't've",
            "mightn'tve", "mightn't've", "mightve", "might've", "mustnt", "mustn't", "mustve", "must've",
            "neednt", "needn't", "notve", "not've", "oclock", "o'clock", "oughtnt", "oughtn't", "ow's'at", "'ow's'at",
            "'ows'at", "'ow's'at", "'ow'sat", "'ow's'at", "shant", "shan't", "shed've", "she'd've",
            "she'dve", "she'd've", "she's", "she's", "shouldve", "should've", "shouldnt", "shouldn't",
            "shouldnt've", "shouldn't've", "shouldn'tve", "shouldn't've", "somebody'd", "somebodyd",
            "somebodyd've", "somebody'd've", "somebody'dve", "somebody'd've", "somebodyll", "somebody'll",
            "somebodys", "somebody's", "someoned", "someone'd", "someoned've", "someone'd've",
            "someone'dve", "someone'd've", "someonell", "someone'll", "someones", "someone's",
            "somethingd", "something'd", "somethingd've", "something'd've", "something'dve", "something'd've",
            "somethingll", "something'll", "thats", "that's", "thered", "there'd", "thered've", "there'd've",
            "there'dve", "there'd've", "therere", "there're", "theres", "there's", "theyd", "they'd",
            "theyd've", "they'd've", "they'dve", "they'd've", "theyll", "they'll", "theyre", "they're",
            "theyve", "they've", "twas", "'twas", "wasnt", "wasn't", "wed've", "we'd've", "we'dve", "we'd've",
            "weve", "we've", "werent", "weren't", "whatll", "what'll", "whatre", "what're", "whats", "what's",
            "whatve", "what've", "whens", "when's", "whered", "where'd", "wheres", "where's", "whereve", "where've",
            "whod", "who'd", "whod've", "who'd've", "who'dve", "who'd've", "wholl", "who'll", "whos", "who's",
            "whove", "who've", "whyll", "why'll", "whyre", "why're", "whys", "why's", "wont", "won't",
            "wouldve", "would've", "wouldnt", "wouldn't", "wouldnt've", "wouldn't've", "wouldn'tve", "wouldn't've",
            "yall", "y'all", "yall'll", "y'all'll", "y'allll", "y'all'll", "yall'd've", "y'all'd've",
            "y'alld've", "y'all'd've", "y'all'dve", "y'all'd've", "youd", "you'd", "youd've", "you'd've",
            "you'dve", "you'd've", "youll", "you'll", "youre", "you're", "youve", "you've"
    };

    /**
     * The entries whose key, or value, VizWiz's table keeps with a straight apostrophe (every other apostrophe of
     * {@link #PAIRS} is U+2019 there).
     */
    private static final Set<String> VIZWIZ_STRAIGHT_KEYS = Set.of("couldn'tve", "hadn'tve");
    private static final Set<String> VIZWIZ_STRAIGHT_VALUES = Set.of("aint", "arent", "cant", "couldve", "couldnt",
            "weve", "wheres", "whove");

    static final Map<String, String> VQA = table(false);
    static final Map<String, String> VIZWIZ = table(true);

    private static Map<String, String> table(boolean vizWiz) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < PAIRS.length; i += 2) {
            String key = PAIRS[i];
            String value = PAIRS[i + 1];
            if (vizWiz) {
                value = VIZWIZ_STRAIGHT_VALUES.contains(key) ? value : value.replace('\'', '\u2019');
                key = VIZWIZ_STRAIGHT_KEYS.contains(key) ? key : key.replace('\'', '\u2019');
            }
            m.put(key, value);
        }
        return Map.copyOf(m);
    }
}
