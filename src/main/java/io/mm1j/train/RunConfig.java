package io.mm1j.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.WrittenNumbers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A pre-training run's configuration: the JSON contract of {@code mm1 pretrain --config run.json} (keys listed,
 * with their defaults, in {@code /train/run-defaults.json}). Layers, later ones winning: defaults → the config
 * file → shorthand flags ({@code --preset}, {@code --data}, {@code --steps}, {@code --seed}) → {@code --set k=v}.
 * Unknown keys are an error naming the key and the nearest valid one. The resolved tree is what a run saves as
 * {@code run.json} and what {@code --resume} compares against.
 */
public final class RunConfig {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** The mapper run configs are read and written with (for commands that assemble config values). */
    public static final ObjectMapper JSON_MAPPER = JSON;

    /** Keys of one {@code data.sources[]} entry. */
    static final List<String> SOURCE_KEYS = List.of("name", "format", "path", "images", "weight");
    /** Formats a source can have. */
    public static final List<String> FORMATS = List.of("coco", "wds", "mmc4", "obelics", "text", "llava", "vqa",
            "synthetic");
    /** Components {@code train.freeze} and {@code train.lr_multipliers} name. */
    public static final List<String> COMPONENTS = List.of("vision", "connector", "llm", "lm_head");
    /** Objects whose keys are checked by the model config reader (mm1j config field names), not here. */
    private static final Set<String> FREE_OBJECTS = Set.of("model.vision", "model.connector", "model.moe");

    private final ObjectNode tree;
    /** Numbers with a fraction or exponent as the file or {@code --set} wrote them, by JSON pointer (for messages). */
    private final Map<String, String> written;

    private RunConfig(ObjectNode tree, Map<String, String> written) {
        this.tree = tree;
        this.written = written;
    }

    /** The defaults alone. */
    public static ObjectNode defaults() {
        try (InputStream in = RunConfig.class.getResourceAsStream("/train/run-defaults.json")) {
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException("run-defaults.json missing from the jar", e);
        }
    }

    /**
     * @param file      a run config JSON, or null
     * @param shorthand dotted key → JSON value text from shorthand flags (applied before {@code sets})
     * @param sets      {@code key=value} overrides; the value is JSON when it parses as JSON, else a string
     */
    public static RunConfig resolve(Path file, Map<String, String> shorthand, List<String> sets) {
        return resolve(null, file, shorthand, sets);
    }

    /**
     * The same with a command's own defaults ({@code overlay}, e.g. {@code mm1 sft}'s AdaFactor and LR) applied
     * over the general ones, before the config file.
     */
    public static RunConfig resolve(ObjectNode overlay, Path file, Map<String, String> shorthand, List<String> sets) {
        ObjectNode tree = defaults();
        if (overlay != null) {
            merge(tree, overlay);
        }
        Map<String, String> written = new java.util.LinkedHashMap<>();
        if (file != null) {
            JsonNode user = readFile(file);
            List<String> problems = new ArrayList<>();
            check(user, tree, "", problems);
            if (!problems.isEmpty()) {
                throw new Mm1Exception(file + ": " + problems.get(0));
            }
            merge(tree, (ObjectNode) user);
            written.putAll(WrittenNumbers.in(file));
        }
        shorthand.forEach((k, v) -> set(tree, k, v, "flag", written));
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new Mm1Exception("--set " + s + ": expected key=value");
            }
            set(tree, s.substring(0, eq).trim(), s.substring(eq + 1), "--set", written);
        }
        RunConfig c = new RunConfig(tree, written);
        c.validate();
        return c;
    }

    /** A run config from a saved {@code run.json} (already resolved). */
    public static RunConfig ofResolved(JsonNode resolved, String where) {
        if (!(resolved instanceof ObjectNode o)) {
            throw new Mm1Exception(where + ": not a JSON object");
        }
        List<String> problems = new ArrayList<>();
        check(o, defaults(), "", problems);
        if (!problems.isEmpty()) {
            throw new Mm1Exception(where + ": " + problems.get(0));
        }
        ObjectNode tree = defaults();
        merge(tree, o);
        RunConfig c = new RunConfig(tree, Map.of());
        c.validate();
        return c;
    }

    /** Another command's defaults from the jar (e.g. {@code /train/clip-defaults.json} of {@code mm1 clip}). */
    public static ObjectNode defaults(String resource) {
        try (InputStream in = RunConfig.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " missing from the jar");
            }
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException(resource + " unreadable in the jar", e);
        }
    }

    /**
     * A config of another command whose keys and defaults are {@code schema} (e.g. {@code mm1 clip}): the same
     * layering (schema → file → shorthand → {@code --set}) and unknown-key messages; validating the values is that
     * command's business (pre-training's checks name pre-training keys).
     */
    public static RunConfig resolveAgainst(ObjectNode schema, Path file, Map<String, String> shorthand,
                                           List<String> sets) {
        ObjectNode tree = schema.deepCopy();
        Map<String, String> written = new java.util.LinkedHashMap<>();
        if (file != null) {
            JsonNode user = readFile(file);
            List<String> problems = new ArrayList<>();
            check(user, schema, "", problems);
            if (!problems.isEmpty()) {
                throw new Mm1Exception(file + ": " + problems.get(0));
            }
            merge(tree, (ObjectNode) user);
            written.putAll(WrittenNumbers.in(file));
        }
        shorthand.forEach((k, v) -> set(schema, tree, k, v, "flag", written));
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new Mm1Exception("--set " + s + ": expected key=value");
            }
            set(schema, tree, s.substring(0, eq).trim(), s.substring(eq + 1), "--set", written);
        }
        return new RunConfig(tree, written);
    }

    /** A saved, resolved config of the command whose keys are {@code schema} (values not validated here). */
    public static RunConfig ofResolvedAgainst(ObjectNode schema, JsonNode resolved, String where) {
        if (!(resolved instanceof ObjectNode o)) {
            throw new Mm1Exception(where + ": not a JSON object");
        }
        List<String> problems = new ArrayList<>();
        check(o, schema, "", problems);
        if (!problems.isEmpty()) {
            throw new Mm1Exception(where + ": " + problems.get(0));
        }
        ObjectNode tree = schema.deepCopy();
        merge(tree, o);
        return new RunConfig(tree, Map.of());
    }

    private static JsonNode readFile(Path file) {
        if (Files.isDirectory(file)) {
            throw new Mm1Exception(file + ": a folder, not a config file (give a run.json-style JSON file)");
        }
        if (!Files.isRegularFile(file)) {
            throw new Mm1Exception(file + ": config file not found");
        }
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (!(n instanceof ObjectNode o)) {
                throw new Mm1Exception(file + ": a run config must be a JSON object");
            }
            o.remove("_run"); // a run's run.json is a config: its record (commit, versions, resolved model) is not
            return o;
        } catch (JsonProcessingException e) {
            throw new Mm1Exception(file + ": invalid JSON: " + e.getOriginalMessage() + " (line "
                    + e.getLocation().getLineNr() + ")", e);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Collects the first unknown key of {@code user} against the schema {@code schema}. */
    private static void check(JsonNode user, JsonNode schema, String prefix, List<String> problems) {
        if (!(user instanceof ObjectNode) || FREE_OBJECTS.contains(strip(prefix))) {
            return;
        }
        if (strip(prefix).equals("train.lr_multipliers")) {
            user.fieldNames().forEachRemaining(k -> {
                if (!COMPONENTS.contains(k)) {
                    problems.add("unknown key '" + prefix + k + "' (components: " + String.join(", ", COMPONENTS)
                            + ")");
                }
            });
            return;
        }
        if (strip(prefix).equals("tokenizer")) {
            return; // a path, "bytes" or {"train": {...}}: checked in validate()
        }
        Iterator<String> it = user.fieldNames();
        while (it.hasNext()) {
            String k = it.next();
            String full = prefix + k;
            if (!schema.has(k)) {
                List<String> valid = new ArrayList<>();
                schema.fieldNames().forEachRemaining(f -> valid.add(prefix + f));
                problems.add("unknown key '" + full + "'" + nearest(full, valid));
                return;
            }
            JsonNode uv = user.get(k);
            if (full.equals("data.sources") && uv.isArray()) {
                for (int i = 0; i < uv.size(); i++) {
                    JsonNode src = uv.get(i);
                    if (!src.isObject()) {
                        problems.add("data.sources[" + i + "] must be an object");
                        return;
                    }
                    Iterator<String> keys = src.fieldNames();
                    while (keys.hasNext()) {
                        String sk = keys.next();
                        if (!SOURCE_KEYS.contains(sk)) {
                            List<String> valid = SOURCE_KEYS.stream().map(x -> "data.sources[" + 0 + "]." + x).toList();
                            problems.add("unknown key 'data.sources[" + i + "]." + sk + "'"
                                    + nearest("data.sources[" + 0 + "]." + sk, valid).replace("[0]", "[" + i + "]"));
                            return;
                        }
                    }
                }
                continue;
            }
            check(uv, schema.get(k), full + ".", problems);
        }
    }

    private static String strip(String prefix) {
        return prefix.endsWith(".") ? prefix.substring(0, prefix.length() - 1) : prefix;
    }

    /** ", did you mean 'x'?" for the closest valid key by edit distance, or "" when none is close. */
    static String nearest(String key, List<String> valid) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String v : valid) { // a truncated key ("model.llm.hidden"): the shortest valid key it begins
            if (v.startsWith(key) && (best == null || v.length() < best.length())) {
                best = v;
                bestD = 0;
            }
        }
        for (String v : best != null ? List.<String>of() : valid) {
            int d = editDistance(key, v);
            if (d < bestD) {
                bestD = d;
                best = v;
            }
        }
        return best != null && bestD <= Math.max(3, key.length() / 2) ? "; did you mean '" + best + "'?"
                : "; valid keys here: " + String.join(", ", valid);
    }

    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** Deep merge: objects merge key by key (except free-form ones, which are replaced); other values replace. */
    private static void merge(ObjectNode into, ObjectNode from) {
        from.fields().forEachRemaining(e -> {
            JsonNode cur = into.get(e.getKey());
            if (cur instanceof ObjectNode co && e.getValue() instanceof ObjectNode fo) {
                merge(co, fo);
            } else {
                into.set(e.getKey(), e.getValue().deepCopy());
            }
        });
    }

    /**
     * Sets a dotted key ({@code optim.lr}, {@code data.sources.0.weight}) after checking it exists; {@code written}
     * then holds the value's numbers as typed in place of what they replaced.
     */
    private static void set(ObjectNode tree, String key, String valueText, String how, Map<String, String> written) {
        set(defaults(), tree, key, valueText, how, written);
    }

    /** {@link #set(ObjectNode, String, String, String, Map)} against the keys of {@code defaults}. */
    private static void set(ObjectNode defaults, ObjectNode tree, String key, String valueText, String how,
                            Map<String, String> written) {
        String at = WrittenNumbers.pointer(key);
        written.keySet().removeIf(k -> WrittenNumbers.isUnder(k, at));
        written.putAll(WrittenNumbers.placed(WrittenNumbers.of(valueText), at));
        JsonNode value = parseValue(valueText);
        String[] parts = key.split("\\.");
        JsonNode schema = defaults;
        JsonNode node = tree;
        StringBuilder path = new StringBuilder();
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            boolean last = i == parts.length - 1;
            String here = path.length() == 0 ? p : path + "." + p;
            boolean free = FREE_OBJECTS.contains(path.toString()) || path.toString().equals("train.lr_multipliers")
                    || path.toString().startsWith("data.sources");
            if (node instanceof ArrayNode arr) {
                int idx;
                try {
                    idx = Integer.parseInt(p);
                } catch (NumberFormatException e) {
                    throw new Mm1Exception(how + " " + key + ": '" + path + "' is a list; use an index, e.g. "
                            + path + ".0");
                }
                if (idx < 0 || idx >= arr.size()) {
                    throw new Mm1Exception(how + " " + key + ": '" + path + "' has " + arr.size() + " entries");
                }
                if (last) {
                    arr.set(idx, value);
                    return;
                }
                node = arr.get(idx);
                schema = null;
            } else if (node instanceof ObjectNode obj) {
                if (!free && schema != null && !schema.has(p) && !path.toString().equals("tokenizer")) {
                    List<String> valid = new ArrayList<>();
                    String pre = path.length() == 0 ? "" : path + ".";
                    schema.fieldNames().forEachRemaining(f -> valid.add(pre + f));
                    throw new Mm1Exception(how + ": unknown key '" + here + "'" + nearest(here, valid));
                }
                if (path.toString().startsWith("data.sources.") && !SOURCE_KEYS.contains(p)) {
                    throw new Mm1Exception(how + ": unknown key '" + here + "'"
                            + nearest(p, SOURCE_KEYS));
                }
                if (path.toString().equals("train.lr_multipliers") && !COMPONENTS.contains(p)) {
                    throw new Mm1Exception(how + ": unknown key '" + here + "' (components: "
                            + String.join(", ", COMPONENTS) + ")");
                }
                if (last) {
                    obj.set(p, value);
                    return;
                }
                JsonNode next = obj.get(p);
                if (next == null || next.isNull() || !next.isContainerNode()) {
                    next = obj.putObject(p);
                }
                node = next;
                schema = schema == null ? null : schema.get(p);
            } else {
                throw new Mm1Exception(how + " " + key + ": '" + path + "' is not an object");
            }
            path.setLength(0);
            path.append(here);
        }
    }

    private static JsonNode parseValue(String text) {
        try {
            JsonNode n = JSON.readTree(text);
            if (n != null && !n.isMissingNode()) {
                return n;
            }
        } catch (JsonProcessingException ignored) {
            // not JSON: a plain string such as a preset name or a path
        }
        return JsonNodeFactory.instance.textNode(text);
    }

    private void validate() {
        positive("train.steps");
        positive("train.batch_size");
        positive("train.grad_accum");
        positive("train.eval_batches");
        positive("train.log_interval");
        positive("data.seq_len");
        if (integer("data.seq_len") < 7) { // the packer's least row: a text piece needs room (SequencePacker)
            throw new Mm1Exception("data.seq_len must be at least 7 tokens, got " + integer("data.seq_len"));
        }
        positive("data.max_images");
        positive("data.workers");
        positive("data.synthetic_images");
        nonNegativeWhole("train.eval_interval");
        nonNegativeWhole("train.checkpoint_interval");
        nonNegativeWhole("train.fewshot_interval");
        positive("train.fewshot_items");
        positive("train.keep_checkpoints");
        wholeNumber("train.seed");
        if (!node("optim.warmup_steps").isNull()) { // null: LrSchedule.warmupSteps picks it from train.steps
            nonNegativeWhole("optim.warmup_steps");
        }
        nonNegative("optim.weight_decay");
        nonNegative("optim.clip_grad_norm");
        fraction("optim.min_lr_ratio");
        fraction("data.val_fraction");
        if (data("data.val_fraction") >= 1) {
            throw new Mm1Exception("data.val_fraction must be < 1, got " + shown("data.val_fraction"));
        }
        double b1 = data("optim.beta1");
        double b2 = data("optim.beta2");
        if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) {
            throw new Mm1Exception("optim.beta1 and optim.beta2 must be within [0, 1)");
        }
        if (!(data("optim.eps") > 0)) {
            throw new Mm1Exception("optim.eps must be > 0");
        }
        JsonNode lr = node("optim.lr");
        if (!lr.isNull() && (!lr.isNumber() || !(lr.asDouble() > 0))) {
            throw new Mm1Exception("optim.lr must be a number > 0 or null (null = MM1's LR law), got "
                    + shown("optim.lr"));
        }
        fewshotShots();
        JsonNode devices = node("train.devices");
        if (!devices.isArray()) {
            throw new Mm1Exception("train.devices must be a list of devices (e.g. [\"cuda:0\", \"cuda:1\"]; [] for "
                    + "the process's one), got " + devices);
        }
        devices.forEach(d -> io.mm1j.tensor.Engines.parseDevice(d.asText(), "train.devices"));
        String mp = text("train.mixed_precision");
        if (!MixedPrecision.MODES.contains(mp)) {
            throw new Mm1Exception("train.mixed_precision must be one of " + MixedPrecision.MODES + ", got '" + mp
                    + "'");
        }
        JsonNode freeze = node("train.freeze");
        if (!freeze.isArray()) {
            throw new Mm1Exception("train.freeze must be a list of components (" + String.join(", ", COMPONENTS)
                    + ")");
        }
        freeze.forEach(f -> {
            if (!COMPONENTS.contains(f.asText())) {
                throw new Mm1Exception("train.freeze: unknown component '" + f.asText() + "'"
                        + nearest(f.asText(), COMPONENTS));
            }
        });
        node("train.lr_multipliers").fields().forEachRemaining(e -> {
            if (!COMPONENTS.contains(e.getKey())) {
                throw new Mm1Exception("train.lr_multipliers: unknown component '" + e.getKey() + "'"
                        + nearest(e.getKey(), COMPONENTS));
            }
            if (!e.getValue().isNumber() || e.getValue().asDouble() < 0) {
                throw new Mm1Exception("train.lr_multipliers." + e.getKey() + " must be a number >= 0");
            }
        });
        JsonNode tok = tree.get("tokenizer");
        boolean tokOk = tok.isTextual() || (tok.isObject() && tok.size() == 1 && tok.has("train")
                && tok.get("train").isObject());
        if (!tokOk) {
            throw new Mm1Exception("tokenizer must be a tokenizer.json path, \"bytes\" or {\"train\": {\"vocab_size\": "
                    + "N}}, got " + tok);
        }
        JsonNode vocab = tok.path("train").path("vocab_size");
        int least = io.mm1j.tokenizer.SpecialTokens.COUNT + 256;
        if (tok.isObject() && !vocab.isNull() && !vocab.isMissingNode()
                && !(vocab.isIntegralNumber() && vocab.canConvertToInt() && vocab.asInt() >= least)) {
            throw new Mm1Exception("tokenizer.train.vocab_size must be a whole number >= " + least + " (special "
                    + "tokens + 256 bytes), got " + shown("tokenizer.train.vocab_size"));
        }
        JsonNode mix = node("data.synthetic_mix");
        if (!mix.isNull()) {
            boolean ok = mix.isArray() && mix.size() == 3;
            double sum = 0;
            for (JsonNode x : mix) {
                ok &= x.isNumber() && x.asDouble() >= 0;
                sum += x.asDouble();
            }
            if (!ok || !(sum > 0)) {
                throw new Mm1Exception("data.synthetic_mix must be null (MM1's 45/45/10) or three weights >= 0 for "
                        + "[interleaved, captions, text] with a positive sum, got " + mix);
            }
        }
        String style = node("data.synthetic_captions").asText("");
        if (!style.equals("plain") && !style.equals("recaptioned")) {
            throw new Mm1Exception("data.synthetic_captions must be \"plain\" or \"recaptioned\" (MM1's synthetic "
                    + "VeCap captions), got " + node("data.synthetic_captions"));
        }
        String choice = node("data.caption_choice").asText("first"); // absent in run.json files before the key
        if (!choice.equals("first") && !choice.equals("per_visit")) {
            throw new Mm1Exception("data.caption_choice must be \"first\" (a picture's first caption, as a web "
                    + "pair has one) or \"per_visit\" (one of its captions per visit), got "
                    + node("data.caption_choice"));
        }
        checkBooleans(defaults(), "");
        validateFineTuning();
        JsonNode sources = node("data.sources");
        if (!sources.isNull()) {
            if (!sources.isArray() || sources.isEmpty()) {
                throw new Mm1Exception("data.sources must be a non-empty list (or null for the synthetic world)");
            }
            for (int i = 0; i < sources.size(); i++) {
                JsonNode s = sources.get(i);
                String fmt = s.path("format").asText("");
                if (!FORMATS.contains(fmt)) {
                    throw new Mm1Exception("data.sources[" + i + "].format: '" + fmt + "' is not one of "
                            + String.join("|", FORMATS) + nearest(fmt, FORMATS));
                }
                if (!fmt.equals("synthetic") && s.path("path").asText("").isEmpty()) {
                    throw new Mm1Exception("data.sources[" + i + "].path is required for format " + fmt);
                }
                if (s.has("weight") && !(s.get("weight").isNumber() && s.get("weight").asDouble() >= 0)) {
                    throw new Mm1Exception("data.sources[" + i + "].weight must be a number >= 0");
                }
            }
        }
    }

    /** {@code optim.name}, {@code optim.adafactor}, {@code lora} and {@code model.high_res} (SFT settings). */
    private void validateFineTuning() {
        String opt = node("optim.name").asText("");
        if (!List.of("adamw", "adafactor").contains(opt)) {
            throw new Mm1Exception("optim.name must be adamw or adafactor, got " + node("optim.name"));
        }
        JsonNode af = node("optim.adafactor");
        new AdaFactor.Settings(af.path("decay_rate").asDouble(), af.path("eps1").asDouble(),
                af.path("clip_threshold").asDouble(), af.path("beta1").asDouble());
        JsonNode lora = node("lora");
        if (!lora.path("rank").isIntegralNumber() || lora.path("rank").asInt() < 0) {
            throw new Mm1Exception("lora.rank must be a whole number >= 0 (0 = no adapter), got "
                    + shown("lora.rank"));
        }
        if (!lora.path("targets").isArray()) {
            throw new Mm1Exception("lora.targets must be a list of module names");
        }
        Lora.Config.of(lora); // checks alpha, dropout and targets when rank > 0
        if (lora.path("rank").asInt() > 0 && lora.path("dropout").asDouble() > 0
                && flag("train.activation_checkpointing")) {
            throw new Mm1Exception("lora.dropout > 0 cannot be combined with train.activation_checkpointing (the "
                    + "recomputed forward would draw other dropout masks)");
        }
        JsonNode hr = node("model.high_res");
        JsonNode en = hr.path("enabled");
        if (!en.isNull() && !en.isBoolean()) {
            throw new Mm1Exception("model.high_res.enabled must be true, false or null (null: as the model is), got "
                    + en);
        }
        JsonNode crop = hr.path("crop");
        if (!crop.isNull() && !(crop.isIntegralNumber() && crop.asInt() > 0)) {
            throw new Mm1Exception("model.high_res.crop must be a whole number of pixels or null (null: the "
                    + "encoder's resolution), got " + shown("model.high_res.crop"));
        }
        if (!crop.isNull() && !en.asBoolean(false)) { // the crop is a setting of the mode: alone it would do nothing
            throw new Mm1Exception("model.high_res.crop (--crop) is the sub-image size of the high-resolution mode: "
                    + "it needs model.high_res.enabled=true (--high-res), got enabled=" + en);
        }
        positive("model.high_res.rows");
        positive("model.high_res.cols");
        new io.mm1j.config.HighResConfig(hr.path("rows").asInt(), hr.path("cols").asInt(),
                hr.path("overview").asBoolean());
    }

    /**
     * Every key whose default is true or false must be a JSON boolean: Jackson's {@code asBoolean()} reads a string
     * such as "yes" as false, which would silently switch the setting off.
     */
    private void checkBooleans(JsonNode defaults, String prefix) {
        defaults.fields().forEachRemaining(e -> {
            String key = prefix + e.getKey();
            if (e.getValue().isObject()) {
                checkBooleans(e.getValue(), key + ".");
            } else if (e.getValue().isBoolean()) {
                JsonNode v = present(key);
                if (!v.isBoolean()) {
                    throw new Mm1Exception(key + " must be true or false, got " + v);
                }
            }
        });
    }

    /**
     * Refuses two data sources of one name (a source without a name is named by its format; a synthetic entry
     * brings interleaved, captions and text): their losses and validation sets would merge under it. Checked for
     * new runs only: a run from before this check resumes as it was.
     */
    public void checkSourceNames() {
        JsonNode sources = node("data.sources");
        Map<String, String> seen = new java.util.HashMap<>();
        for (int i = 0; i < sources.size(); i++) {
            JsonNode s = sources.get(i);
            String fmt = s.path("format").asText("");
            List<String> names = fmt.equals("synthetic") ? List.of("interleaved", "captions", "text")
                    : List.of(s.has("name") ? s.get("name").asText() : fmt);
            for (String name : names) {
                String where = "data.sources[" + i + "]" + (fmt.equals("synthetic") ? " (the synthetic world's '"
                        + name + "')" : s.has("name") ? "" : " (a source without a name is named by its format)");
                String before = seen.putIfAbsent(name, where);
                if (before != null) {
                    throw new Mm1Exception("data.sources: '" + name + "' names both " + before + " and " + where
                            + "; give each source its own name (losses are logged per name)");
                }
            }
        }
    }

    /** The value at {@code key}, refused when missing (its parent was replaced by a non-object). */
    private JsonNode present(String key) {
        JsonNode n = node(key);
        if (n.isMissingNode()) {
            String parent = key.substring(0, key.lastIndexOf('.'));
            throw new Mm1Exception(key + " is missing: " + parent + " is " + node(parent) + ", not an object");
        }
        return n;
    }

    /**
     * The value at {@code key} as the user wrote it: {@code 1e2}, not the {@code 100.0} Jackson parsed it into; other
     * values as JSON.
     */
    public String shown(String key) {
        String w = written.get(WrittenNumbers.pointer(key));
        return w != null ? w : node(key).toString();
    }

    /**
     * The numbers under {@code dotted} as the user wrote them, by JSON pointer from there ({@code /width} for
     * {@code model.vision.width}): for messages about an object bound elsewhere ({@code model.vision}).
     */
    public Map<String, String> writtenUnder(String dotted) {
        return WrittenNumbers.under(written, WrittenNumbers.pointer(dotted));
    }

    /**
     * A whole number: written without a fraction or an exponent ({@code 1e2} and {@code 100.0} are refused, as the
     * model config reader refuses them) and within the int range.
     */
    void wholeNumber(String key) {
        JsonNode n = present(key);
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new Mm1Exception(key + " must be a whole number from " + Integer.MIN_VALUE + " to "
                    + Integer.MAX_VALUE + ", got " + shown(key));
        }
    }

    private void positive(String key) {
        JsonNode n = present(key);
        if (n.isIntegralNumber() && !n.canConvertToInt() && n.bigIntegerValue().signum() > 0) {
            throw new Mm1Exception(key + " must be a whole number from 1 to " + Integer.MAX_VALUE + ", got " + n);
        }
        if (!n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() < 1) {
            throw new Mm1Exception(key + " must be a whole number >= 1, got " + shown(key));
        }
    }

    private void nonNegativeWhole(String key) {
        JsonNode n = present(key);
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 0) {
            throw new Mm1Exception(key + " must be a whole number >= 0, got " + shown(key));
        }
    }

    private void nonNegative(String key) {
        JsonNode n = node(key);
        if (!n.isNumber() || n.asDouble() < 0) {
            throw new Mm1Exception(key + " must be a number >= 0, got " + shown(key));
        }
    }

    private void fraction(String key) {
        JsonNode n = node(key);
        if (!n.isNumber() || n.asDouble() < 0 || n.asDouble() > 1) {
            throw new Mm1Exception(key + " must be within [0, 1], got " + shown(key));
        }
    }

    /**
     * {@code train.fewshot_shots}: the demonstrations per prompt of each periodic quick evaluation (MM1's 0, 4 or 8),
     * distinct, in the order given.
     */
    public List<Integer> fewshotShots() {
        JsonNode n = node("train.fewshot_shots");
        String bad = "train.fewshot_shots must be a non-empty list of distinct shot counts from "
                + io.mm1j.eval.FewShotEvaluator.SHOTS + " (MM1's few-shot settings), got " + n;
        if (!n.isArray() || n.isEmpty()) {
            throw new Mm1Exception(bad);
        }
        List<Integer> out = new java.util.ArrayList<>();
        for (JsonNode s : n) {
            if (!s.isIntegralNumber() || !io.mm1j.eval.FewShotEvaluator.SHOTS.contains(s.asInt())
                    || out.contains(s.asInt())) {
                throw new Mm1Exception(bad);
            }
            out.add(s.asInt());
        }
        return out;
    }

    /** The node at a dotted key (MissingNode when absent). */
    public JsonNode node(String dotted) {
        JsonNode n = tree;
        for (String p : dotted.split("\\.")) {
            n = n.path(p);
        }
        return n;
    }

    public int integer(String dotted) {
        return node(dotted).asInt();
    }

    public double data(String dotted) {
        return node(dotted).asDouble();
    }

    public boolean flag(String dotted) {
        return node(dotted).asBoolean();
    }

    public String text(String dotted) {
        JsonNode n = node(dotted);
        return n.isNull() || n.isMissingNode() ? null : n.asText();
    }

    /** The resolved tree (a copy). */
    public ObjectNode tree() {
        return tree.deepCopy();
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
