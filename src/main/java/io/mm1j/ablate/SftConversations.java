package io.mm1j.ablate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.JsonFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The SFT data of the ablation's SFT studies: the synthetic world's LLaVA conversations ({@code llava/train.json},
 * one per picture, its questions as human turns and the answers as gpt turns) with each conversation's
 * question-answer pairs shuffled by a seeded draw per picture. The world asks an image's questions in a fixed order
 * by type; shuffled, every question type also appears as a first turn, as the single-question evaluation asks it
 * ({@code scripts/sft_experiment.sh} does the same). The {@code <image>} tag stays on the first human turn.
 */
final class SftConversations {
    private static final String TAG = "<image>\n";

    private SftConversations() {}

    /** Writes {@code to} from {@code from} unless it is there (a pure function of the file and the seed). */
    static void ensure(Path from, Path to, long seed) {
        if (Files.isRegularFile(to)) {
            return;
        }
        JsonNode all;
        try {
            all = JsonFiles.MAPPER.readTree(from.toFile());
        } catch (IOException e) {
            throw new Mm1Exception(from + ": cannot read the conversations: " + e.getMessage(), e);
        }
        if (!all.isArray()) {
            throw new Mm1Exception(from + ": expected a JSON list of LLaVA conversations");
        }
        ArrayNode outList = JsonFiles.MAPPER.createArrayNode();
        for (int c = 0; c < all.size(); c++) {
            outList.add(shuffled(all.get(c), seed, from + "[" + c + "]"));
        }
        try {
            Files.createDirectories(to.getParent());
        } catch (IOException e) {
            throw new Mm1Exception(to.getParent() + ": cannot create: " + e.getMessage(), e);
        }
        AtomicFiles.writeString(to, outList.toString());
    }

    /** One conversation with its (question, answer) pairs in a seeded order per conversation id. */
    static ObjectNode shuffled(JsonNode conv, long seed, String where) {
        JsonNode turns = conv.path("conversations");
        if (!turns.isArray() || turns.size() % 2 != 0) {
            throw new Mm1Exception(where + ".conversations: expected human/gpt pairs");
        }
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i < turns.size(); i += 2) {
            String q = turns.get(i).path("value").asText();
            pairs.add(new String[] {q.startsWith(TAG) ? q.substring(TAG.length()) : q,
                    turns.get(i + 1).path("value").asText()});
        }
        SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + conv.path("id").asText().hashCode());
        for (int i = pairs.size() - 1; i > 0; i--) { // Fisher–Yates
            int j = rnd.nextInt(i + 1);
            String[] t = pairs.get(i);
            pairs.set(i, pairs.get(j));
            pairs.set(j, t);
        }
        ObjectNode out = ((ObjectNode) conv).deepCopy();
        ArrayNode a = out.putArray("conversations");
        for (int i = 0; i < pairs.size(); i++) {
            a.addObject().put("from", "human").put("value", (i == 0 ? TAG : "") + pairs.get(i)[0]);
            a.addObject().put("from", "gpt").put("value", pairs.get(i)[1]);
        }
        return out;
    }
}
