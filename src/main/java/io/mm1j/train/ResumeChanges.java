package io.mm1j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeSet;

/**
 * What a {@code --resume} changes in a run's config (a longer {@code --steps}, another {@code eval} interval, a
 * {@code --set}): keys a resume may not change are refused before ({@code FIXED_ON_RESUME}); the others are taken,
 * logged one line each and recorded in run.json, whose config then is the one the run goes on with and whose
 * {@code _run.resumes} lists each resume's step and changes ({@code before}, {@code after}).
 *
 * <p>A warm-up derived from {@code train.steps} (no {@code optim.warmup_steps}) stays the one the run started with:
 * re-deriving it from a new length would send a run past its warm-up back into it (the LR dropping from the
 * schedule's value to a fraction of it at the resumed step).
 */
final class ResumeChanges {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ResumeChanges.class);

    /** One changed leaf, by its dotted key. */
    record Change(String key, JsonNode before, JsonNode after) {}

    private ResumeChanges() {}

    /**
     * {@code now} with the warm-up {@code before} ran with when {@code now} leaves it unset (null: derived): for a
     * resumed run that is the warm-up it started with, not one derived anew from a changed {@code train.steps}.
     */
    static RunConfig pinDerivedWarmup(JsonNode before, RunConfig now, String where) {
        if (!now.node("optim.warmup_steps").isNull()) {
            return now; // set explicitly: taken (and recorded) as a change
        }
        JsonNode was = before.path("optim").path("warmup_steps");
        int pinned = LrSchedule.warmupSteps(RunConfig.ofResolved(before, where));
        if ((was.isNull() || was.isMissingNode()) && pinned == LrSchedule.warmupSteps(now)) {
            return now; // derived both times, to the same value
        }
        ObjectNode tree = now.tree();
        ((ObjectNode) tree.get("optim")).put("warmup_steps", pinned);
        return RunConfig.ofResolved(tree, where);
    }

    /** Every leaf (dotted key; arrays compared whole) where {@code before} and {@code after} differ. */
    static List<Change> between(JsonNode before, JsonNode after) {
        List<Change> out = new ArrayList<>();
        collect(before, after, "", out);
        return out;
    }

    private static void collect(JsonNode a, JsonNode b, String prefix, List<Change> out) {
        if (a.equals(b)) {
            return;
        }
        if (a.isObject() && b.isObject()) {
            TreeSet<String> keys = new TreeSet<>();
            a.fieldNames().forEachRemaining(keys::add);
            b.fieldNames().forEachRemaining(keys::add);
            for (String k : keys) {
                collect(a.path(k), b.path(k), prefix.isEmpty() ? k : prefix + "." + k, out);
            }
            return;
        }
        out.add(new Change(prefix, a.isMissingNode() ? null : a, b.isMissingNode() ? null : b));
    }

    /**
     * One warning line per change, naming the step the run resumes from.
     *
     * @param warmupPinned whether {@link #pinDerivedWarmup} set the warm-up (it is then "kept", not changed)
     */
    static void log(List<Change> changes, long step, boolean warmupPinned) {
        for (Change c : changes) {
            if (warmupPinned && c.key().equals("optim.warmup_steps")) {
                LOG.warn("--resume from step {}: optim.warmup_steps kept at {}, the warm-up the run started with "
                        + "(derived from its first train.steps)", step, c.after());
            } else {
                LOG.warn("--resume from step {}: {} changed from {} to {}{}", step, c.key(), c.before(), c.after(),
                        c.key().equals("train.steps") ? " (the LR schedule now decays over the new length)" : "");
            }
        }
    }

    /**
     * Rewrites {@code runJson}: its config keys become {@code now}'s, {@code _run} is kept, and an entry
     * {@code {step, changes}} is appended to {@code _run.resumes} when there are changes. Nothing is written when
     * there are none and run.json already holds {@code now} (it may not: a process killed after recording a change
     * and before its next checkpoint, resumed with the old settings).
     *
     * @param resolved the new {@code _run.resolved} (what the changed config resolves to), or null to keep it
     */
    static void record(Path runJson, RunConfig now, long step, List<Change> changes, JsonNode resolved) {
        ObjectNode old;
        try {
            JsonNode read = Files.isRegularFile(runJson) ? io.mm1j.config.Presets.JSON.readTree(runJson.toFile())
                    : null;
            old = read instanceof ObjectNode o ? o : io.mm1j.config.Presets.JSON.createObjectNode();
        } catch (IOException e) {
            throw new Mm1Exception(runJson + ": not valid JSON: " + e.getMessage(), e);
        }
        ObjectNode recorded = old.deepCopy();
        recorded.remove("_run");
        if (changes.isEmpty() && recorded.equals(now.tree())) {
            return; // run.json already says what the run goes on with
        }
        ObjectNode out = now.tree();
        ObjectNode meta = old.path("_run") instanceof ObjectNode m ? m.deepCopy()
                : io.mm1j.config.Presets.JSON.createObjectNode();
        if (resolved != null) {
            meta.set("resolved", resolved);
        }
        if (!changes.isEmpty()) {
            ArrayNode resumes = meta.path("resumes") instanceof ArrayNode a ? a : meta.putArray("resumes");
            meta.set("resumes", resumes);
            ObjectNode entry = resumes.addObject();
            entry.put("step", step);
            ObjectNode ch = entry.putObject("changes");
            for (Change c : changes) {
                ObjectNode one = ch.putObject(c.key());
                one.set("before", c.before());
                one.set("after", c.after());
            }
        }
        for (Iterator<String> it = old.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (k.startsWith("_") && !k.equals("_run")) {
                out.set(k, old.get(k)); // other annotations a user or tool left
            }
        }
        out.set("_run", meta);
        AtomicFiles.writeString(runJson, out.toPrettyString());
    }
}
