package io.mm1j.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.eval.CiderD;
import io.mm1j.eval.PtbTokenizer;
import io.mm1j.io.JsonFiles;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * CIDEr-D speed on a COCO-test-sized set: {@code images} synthetic images with {@code refs} references each and one
 * candidate, captions drawn (seeded) from a small caption grammar so that n-grams repeat across images the way real
 * captions do (which is what makes document frequencies, and the cost, realistic). PTB tokenisation is timed
 * separately from the metric. No PyTorch involved, so the report skips the engine fields of {@link Bench}.
 */
public final class EvalBench {
    private static final String[] SUBJECTS = {"a man", "a woman", "two dogs", "a cat", "a group of people",
        "a young boy", "an old bus", "a red car", "a large elephant", "three birds", "a little girl", "a pizza"};
    private static final String[] VERBS = {"is standing", "sitting", "riding", "playing", "is parked", "walking",
        "eating", "looking", "lying", "flying"};
    private static final String[] PLACES = {"on a beach", "in a kitchen", "next to a table", "on the street",
        "in a field of grass", "near the water", "under a tree", "in front of a building", "on a snowy hill",
        "at the park", "in a living room", "on top of a wooden bench"};
    private static final String[] EXTRAS = {"", "", " with a frisbee", " holding an umbrella", " at night",
        ", while people watch", " in the rain", " with a small white dog"};

    private EvalBench() {}

    /** The workload's captions: per image one candidate, then its references, drawn in that order. */
    public record Captions(List<String> candidates, List<List<String>> references) {}

    public static Captions captions(int images, int refs, long seed) {
        Random rnd = new Random(seed);
        List<String> cands = new ArrayList<>(images);
        List<List<String>> refCaptions = new ArrayList<>(images);
        for (int i = 0; i < images; i++) {
            cands.add(caption(rnd));
            List<String> rs = new ArrayList<>(refs);
            for (int r = 0; r < refs; r++) {
                rs.add(caption(rnd));
            }
            refCaptions.add(rs);
        }
        return new Captions(cands, refCaptions);
    }

    public static ObjectNode run(int images, int refs, long seed) {
        Captions c = captions(images, refs, seed);
        List<String> cands = c.candidates();
        List<List<String>> refCaptions = c.references();
        CiderD.score(tokenize(cands.subList(0, 50)), tokenizeAll(refCaptions.subList(0, 50))); // warm-up (JIT)
        long t0 = System.nanoTime();
        List<List<String>> candTokens = tokenize(cands);
        List<List<List<String>>> refTokens = tokenizeAll(refCaptions);
        long t1 = System.nanoTime();
        double cider = CiderD.score(candTokens, refTokens);
        long t2 = System.nanoTime();
        ObjectNode o = JsonFiles.MAPPER.createObjectNode();
        o.put("benchmark", "eval");
        o.put("metric", "CIDEr-D");
        o.put("images", images);
        o.put("refsPerImage", refs);
        o.put("seed", seed);
        o.put("tokenizeSeconds", (t1 - t0) / 1e9);
        o.put("ciderSeconds", (t2 - t1) / 1e9);
        o.put("totalSeconds", (t2 - t0) / 1e9);
        o.put("cider", cider);
        o.put("cpus", Runtime.getRuntime().availableProcessors());
        o.put("java", System.getProperty("java.version"));
        return PeakRss.addTo(o);
    }

    static String caption(Random rnd) {
        String s = SUBJECTS[rnd.nextInt(SUBJECTS.length)] + " " + VERBS[rnd.nextInt(VERBS.length)] + " "
                + PLACES[rnd.nextInt(PLACES.length)] + EXTRAS[rnd.nextInt(EXTRAS.length)] + ".";
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    public static List<List<String>> tokenize(List<String> captions) {
        List<List<String>> out = new ArrayList<>(captions.size());
        for (String c : captions) {
            out.add(PtbTokenizer.tokenize(c));
        }
        return out;
    }

    public static List<List<List<String>>> tokenizeAll(List<List<String>> captions) {
        List<List<List<String>>> out = new ArrayList<>(captions.size());
        for (List<String> c : captions) {
            out.add(tokenize(c));
        }
        return out;
    }
}
