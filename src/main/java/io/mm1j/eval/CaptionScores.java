package io.mm1j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * coco-caption's {@code COCOEvalCap.evaluate()} for BLEU, ROUGE-L and CIDEr-D: references and candidates are PTB
 * tokenised ({@link PtbTokenizer}), then each metric runs over the images of the results file.
 *
 * @param bleu Bleu_1..Bleu_4
 */
public record CaptionScores(double[] bleu, double rougeL, double cider, int images) {
    /**
     * Scores results against references. By default every reference image must have a result (a forgotten image
     * would otherwise silently raise or lower the score); {@code subset} scores only the images present, which is
     * what coco-caption itself does. An image in the results but not in the references is always an error.
     */
    public static CaptionScores evaluate(Map<Long, List<String>> refs, Map<Long, String> results, Path resultsFile,
            boolean subset) {
        List<List<String>> cands = new ArrayList<>();
        List<List<List<String>>> refWords = new ArrayList<>();
        List<List<String>> candTokens = new ArrayList<>();
        List<List<List<String>>> refTokens = new ArrayList<>();
        for (Map.Entry<Long, String> r : results.entrySet()) {
            List<String> rs = refs.get(r.getKey());
            if (rs == null) {
                throw new Mm1Exception(resultsFile + ": image_id " + r.getKey() + " is not in the references");
            }
            if (rs.isEmpty()) {
                throw new Mm1Exception(resultsFile + ": image_id " + r.getKey() + " has no reference captions");
            }
            candTokens.add(PtbTokenizer.tokenize(r.getValue()));
            cands.add(words(candTokens.get(candTokens.size() - 1)));
            List<List<String>> tokens = new ArrayList<>(rs.size());
            List<List<String>> ws = new ArrayList<>(rs.size());
            for (String ref : rs) {
                tokens.add(PtbTokenizer.tokenize(ref));
                ws.add(words(tokens.get(tokens.size() - 1)));
            }
            refTokens.add(tokens);
            refWords.add(ws);
        }
        if (!subset) {
            for (Map.Entry<Long, List<String>> e : refs.entrySet()) {
                if (!e.getValue().isEmpty() && !results.containsKey(e.getKey())) {
                    throw new Mm1Exception(resultsFile + ": no caption for image_id " + e.getKey()
                            + " (use --subset to score only the images present)");
                }
            }
        }
        if (cands.isEmpty()) {
            throw new Mm1Exception(resultsFile + ": no results to score");
        }
        return new CaptionScores(Bleu.score(cands, refWords), RougeL.score(candTokens, refTokens),
                CiderD.score(cands, refWords), cands.size());
    }

    /**
     * A captions results file {@code [{"image_id": int, "caption": str}]}: one caption per image id; a duplicate
     * id is an error (coco-caption would fail an assertion on it).
     */
    public static Map<Long, String> readResults(Path file) {
        JsonNode list = JsonFiles.array(file, JsonFiles.read(file), "a results file");
        Map<Long, String> results = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            long image = JsonFiles.id(file, list.get(i), i, "image_id");
            String caption = JsonFiles.text(file, list.get(i), i, "caption");
            if (results.put(image, caption) != null) {
                throw new Mm1Exception(file + ": entry " + i + ": duplicate image_id " + image
                        + " (one caption per image)");
            }
        }
        return results;
    }

    /** Scores already tokenised captions (the words coco-caption's scorers see). */
    public static CaptionScores of(List<List<String>> cands, List<List<List<String>>> refs) {
        return new CaptionScores(Bleu.score(cands, refs), RougeL.score(cands, refs), CiderD.score(cands, refs),
                cands.size());
    }

    /**
     * PTB tokens as BLEU and CIDEr see them: Python's {@code str.split()} of their space-joined form, which also
     * splits at the no-break space the lexer puts inside "2 1/2" (pycocoevalcap on Python 3). ROUGE-L splits on
     * {@code " "} only and so sees the tokens themselves.
     */
    static List<String> words(List<String> tokens) {
        List<String> out = new ArrayList<>();
        for (String t : tokens) {
            for (String w : t.split("\u00a0")) {
                if (!w.isEmpty()) {
                    out.add(w);
                }
            }
        }
        return out;
    }

    /** The coco-caption JSON keys. */
    public ObjectNode toJson(ObjectMapper json) {
        ObjectNode o = json.createObjectNode();
        for (int n = 0; n < bleu.length; n++) {
            o.put("Bleu_" + (n + 1), bleu[n]);
        }
        o.put("ROUGE_L", rougeL);
        o.put("CIDEr", cider);
        o.put("images", images);
        return o;
    }
}
