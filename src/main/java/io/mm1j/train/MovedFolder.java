package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * A sweep or ablation folder ({@code lr-sweep}, {@code ablate}) that was moved or copied: its finished sub-runs'
 * {@code run.json} still name files inside the folder where it was (the synthetic text, the shared tokenizer and
 * worlds, an encoder stage) by absolute path, so compared as saved they differ from the configs wanted now and a
 * resume would train them again. {@link #reRooted} reads the old location off the saved config itself — where a
 * wanted path is {@code root/REL} and the saved value of the same key is {@code OLD/REL} — and moves every saved path
 * under {@code OLD} to {@code root}. Paths outside the folder (a {@code --text} corpus, {@code --data}) are compared
 * as they are.
 */
public final class MovedFolder {
    private MovedFolder() {}

    /**
     * {@code saved} with its paths under the folder's old location moved under {@code root}; {@code saved} itself when
     * nothing points to another location, or when the differing paths disagree about where the folder was.
     *
     * @param saved  a finished sub-run's config as its run.json holds it
     * @param wanted the config the sweep would give that sub-run now
     * @param root   the sweep folder now (absolute, normalised)
     */
    public static JsonNode reRooted(JsonNode saved, JsonNode wanted, Path root) {
        Path[] old = {null};
        if (!findOldRoot(saved, wanted, root, old) || old[0] == null || old[0].equals(root)) {
            return saved;
        }
        return moved(saved, old[0], root);
    }

    /** Fills {@code old[0]} from the first differing path pair; false when two pairs disagree. */
    private static boolean findOldRoot(JsonNode saved, JsonNode wanted, Path root, Path[] old) {
        if (saved.isObject() && wanted.isObject()) {
            Iterator<Map.Entry<String, JsonNode>> it = saved.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode w = wanted.get(e.getKey());
                if (w != null && !findOldRoot(e.getValue(), w, root, old)) {
                    return false;
                }
            }
            return true;
        }
        if (saved.isArray() && wanted.isArray()) {
            for (int i = 0; i < Math.min(saved.size(), wanted.size()); i++) {
                if (!findOldRoot(saved.get(i), wanted.get(i), root, old)) {
                    return false;
                }
            }
            return true;
        }
        if (!saved.isTextual() || !wanted.isTextual() || saved.asText().equals(wanted.asText())) {
            return true;
        }
        Path w = path(wanted.asText());
        Path s = path(saved.asText());
        if (w == null || s == null || !w.startsWith(root) || w.equals(root)) {
            return true;
        }
        Path rel = root.relativize(w);
        if (!s.endsWith(rel) || s.getNameCount() <= rel.getNameCount()) {
            return true; // another file, not this one elsewhere: the comparison will show it
        }
        Path was = s.getRoot().resolve(s.subpath(0, s.getNameCount() - rel.getNameCount()));
        if (old[0] != null && !old[0].equals(was)) {
            return false;
        }
        old[0] = was;
        return true;
    }

    private static JsonNode moved(JsonNode n, Path old, Path root) {
        if (n instanceof ObjectNode o) {
            ObjectNode out = o.objectNode();
            o.fields().forEachRemaining(e -> out.set(e.getKey(), moved(e.getValue(), old, root)));
            return out;
        }
        if (n instanceof ArrayNode a) {
            ArrayNode out = a.arrayNode();
            a.forEach(x -> out.add(moved(x, old, root)));
            return out;
        }
        if (n.isTextual()) {
            Path p = path(n.asText());
            if (p != null && p.startsWith(old)) {
                return TextNode.valueOf(root.resolve(old.relativize(p)).toString());
            }
        }
        return n;
    }

    /** An absolute, normalised path, or null for text that is none (a preset name, "bytes"). */
    private static Path path(String text) {
        try {
            Path p = Path.of(text);
            return p.isAbsolute() ? p.normalize() : null;
        } catch (InvalidPathException e) {
            return null;
        }
    }
}
