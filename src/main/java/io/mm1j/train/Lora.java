package io.mm1j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.Dropout;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.JsonFiles;
import io.mm1j.llm.Decoder;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.vision.VisionTransformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * LoRA (Hu et al. 2021, "Low-Rank Adaptation of Large Language Models") on an {@link Mm1Model}: each targeted
 * linear layer {@code y = x Wᵀ (+ b)} becomes {@code y = x Wᵀ (+ b) + (α/r) · dropout(x) Aᵀ Bᵀ} with trainable
 * {@code A (r, in)} and {@code B (out, r)}; every base weight is frozen. Targets are module names as in PEFT: a
 * module matches a target when its name equals it or ends with {@code "." + target} ({@code q_proj} hits the LLM's
 * and the encoder's attention; {@code connector.readout.fc1} one layer). Linear layers of all three components can
 * be targeted; embeddings, the LM head, convolutions and MoE experts cannot.
 *
 * <p>Initialisation as PEFT's default: A Kaiming-uniform (bound 1/√in), B zero — so the adapted model starts equal
 * to the base. Tensors live in the model's {@link ParamStore} under PEFT's names,
 * {@code base_model.model.<module>.lora_A.weight}, which is also how {@link #save} writes
 * {@code adapter_model.safetensors} (Hugging Face PEFT layout, loadable with {@code PeftModel.from_pretrained}).
 *
 * <p>In a run, an adapter belongs to its module's component: {@code train.freeze} of a component freezes the
 * adapters on its layers too, and {@code train.lr_multipliers} of a component scales their learning rate
 * ({@link FineTuning#freeze}, {@link FineTuning#lrMultipliers}). Dropout masks are drawn from the engine's RNG,
 * re-seeded from (train.seed, step) before every step, so a resumed run draws the same masks
 * ({@link TrainLoop#rngSeed}).
 */
public final class Lora implements ParamStore.LinearAdapter {
    /** PEFT's prefix of every adapter tensor (a PeftModel wraps the base model as {@code base_model.model}). */
    public static final String PEFT_PREFIX = "base_model.model.";
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    private static final Pattern KEY = Pattern.compile(Pattern.quote(PEFT_PREFIX) + "(.+)\\.lora_([AB])\\.weight");

    /**
     * The adapter's settings ({@code --lora rank=R,alpha=A,dropout=D,targets=…}; PEFT's {@code r},
     * {@code lora_alpha}, {@code lora_dropout}, {@code target_modules}).
     */
    public record Config(int rank, double alpha, double dropout, List<String> targets) {
        public Config {
            if (rank < 1) {
                throw new Mm1Exception("--lora rank must be >= 1, got " + rank);
            }
            if (!(alpha > 0)) {
                throw new Mm1Exception("--lora alpha must be > 0, got " + alpha);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new Mm1Exception("--lora dropout must be within [0, 1), got " + dropout);
            }
            if (targets == null || targets.isEmpty()) {
                throw new Mm1Exception("--lora targets: name at least one module, e.g. targets=q_proj,v_proj");
            }
            targets = List.copyOf(targets);
        }

        /** α / r, the factor of the low-rank term. */
        public double scaling() {
            return alpha / rank;
        }

        /**
         * Parses {@code rank=8,alpha=16,dropout=0.05,targets=q_proj,k_proj,v_proj,o_proj}: every comma-separated
         * item without '=' after {@code targets=} is one more target. Defaults: alpha 2·rank, dropout 0, the four
         * attention projections.
         */
        public static Config parse(String spec) {
            Integer rank = null;
            Double alpha = null;
            double dropout = 0;
            List<String> targets = new ArrayList<>();
            boolean inTargets = false;
            for (String item : spec.split(",")) {
                String it = item.trim();
                if (it.isEmpty()) {
                    continue;
                }
                int eq = it.indexOf('=');
                if (eq < 0) {
                    if (!inTargets) {
                        throw new Mm1Exception("--lora: '" + it + "' is not key=value (keys: rank, alpha, dropout, "
                                + "targets)");
                    }
                    targets.add(it);
                    continue;
                }
                String k = it.substring(0, eq).trim();
                String v = it.substring(eq + 1).trim();
                inTargets = false;
                try {
                    switch (k) {
                        case "rank", "r" -> rank = Integer.parseInt(v);
                        case "alpha", "lora_alpha" -> alpha = Double.parseDouble(v);
                        case "dropout", "lora_dropout" -> dropout = Double.parseDouble(v);
                        case "targets", "target_modules" -> {
                            inTargets = true;
                            if (!v.isEmpty()) {
                                targets.add(v);
                            }
                        }
                        default -> throw new Mm1Exception("--lora: unknown key '" + k + "' (keys: rank, alpha, dropout, "
                                + "targets)");
                    }
                } catch (NumberFormatException e) {
                    throw new Mm1Exception("--lora " + k + ": '" + v + "' is not a number");
                }
            }
            if (rank == null) {
                throw new Mm1Exception("--lora: rank=R is required, e.g. --lora rank=8,alpha=16");
            }
            return new Config(rank, alpha == null ? 2.0 * rank : alpha, dropout,
                    targets.isEmpty() ? List.of("q_proj", "k_proj", "v_proj", "o_proj") : targets);
        }

        /** From the run config's {@code lora} object (null when {@code lora.rank} is 0: no adapter). */
        public static Config of(JsonNode n) {
            if (n == null || n.isNull() || n.isMissingNode() || n.path("rank").asInt(0) == 0) {
                return null;
            }
            List<String> t = new ArrayList<>();
            n.path("targets").forEach(x -> t.add(x.asText()));
            int rank = n.path("rank").asInt();
            return new Config(rank, n.path("alpha").isNumber() ? n.path("alpha").asDouble() : 2.0 * rank,
                    n.path("dropout").isNumber() ? n.path("dropout").asDouble() : 0, t);
        }

        /** As the run config's {@code lora} object. */
        public ObjectNode toJson() {
            ObjectNode o = RunConfig.JSON.createObjectNode();
            o.put("rank", rank).put("alpha", alpha).put("dropout", dropout);
            targets.forEach(o.putArray("targets")::add);
            return o;
        }
    }

    private final Mm1Model model;
    private final ParamStore params;
    private final Config config;
    private final Map<String, String> modules = new LinkedHashMap<>(); // base weight name → module name
    private final NDArray scaling;

    private Lora(Mm1Model model, Config config) {
        this.model = model;
        this.params = model.params();
        this.config = config;
        this.scaling = params.scalar(config.scaling()); // cached: never mul(Number) under autograd (cookbook 1)
    }

    /**
     * Adds fresh adapters (A Kaiming-uniform, B zero) for {@code config}'s targets and freezes the base model.
     *
     * @throws Mm1Exception when a target matches no linear layer, or the rank exceeds a layer's smaller side
     */
    public static Lora attach(Mm1Model model, Config config) {
        Lora l = new Lora(model, config);
        l.select();
        for (Map.Entry<String, String> e : l.modules.entrySet()) {
            Shape w = l.params.get(e.getKey()).getShape(); // (out, in)
            long in = w.get(1);
            double bound = 1 / Math.sqrt(in); // kaiming_uniform_(a=√5): gain √(1/3) · √(3/in)
            NDArray a = l.params.manager().randomUniform((float) -bound, (float) bound, new Shape(config.rank(), in),
                    DataType.FLOAT32);
            l.params.put(aName(e.getValue()), a);
            l.params.put(bName(e.getValue()), l.params.manager().zeros(new Shape(w.get(0), config.rank()),
                    DataType.FLOAT32));
        }
        l.activate();
        return l;
    }

    /**
     * Loads a PEFT adapter folder ({@value #CONFIG_FILE} + {@value #WEIGHTS_FILE}) onto {@code model}, checking
     * that every tensor names a linear layer of this model with matching shapes.
     */
    public static Lora load(Mm1Model model, Path dir) {
        Path cfgFile = dir.resolve(CONFIG_FILE);
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(cfgFile)) {
            throw new Mm1Exception(dir + ": not a LoRA adapter folder (" + CONFIG_FILE + " not found)");
        }
        JsonNode c = JsonFiles.read(cfgFile);
        if (!"LORA".equals(c.path("peft_type").asText())) {
            throw new Mm1Exception(cfgFile + ": peft_type must be \"LORA\", got " + c.path("peft_type"));
        }
        if (!c.path("r").canConvertToInt() || !c.path("lora_alpha").isNumber()) {
            throw new Mm1Exception(cfgFile + ": r and lora_alpha must be numbers");
        }
        if (c.path("use_rslora").asBoolean(false) || c.path("use_dora").asBoolean(false)) {
            throw new Mm1Exception(cfgFile + ": use_rslora / use_dora adapters are not supported (plain LoRA only)");
        }
        if (!c.path("rank_pattern").isEmpty() || !c.path("alpha_pattern").isEmpty()) {
            throw new Mm1Exception(cfgFile + ": rank_pattern / alpha_pattern are not supported (one rank for all)");
        }
        List<String> targets = new ArrayList<>();
        JsonNode tm = c.path("target_modules");
        if (tm.isTextual()) {
            targets.add(tm.asText());
        } else {
            tm.forEach(t -> targets.add(t.asText()));
        }
        Config cfg = new Config(c.path("r").asInt(), c.path("lora_alpha").asDouble(), c.path("lora_dropout")
                .asDouble(0), targets.isEmpty() ? List.of("(from tensors)") : targets);
        Lora l = new Lora(model, cfg);
        if (!Files.isRegularFile(weights)) {
            throw new Mm1Exception(dir + ": " + WEIGHTS_FILE + " not found");
        }
        try (SafeTensors st = SafeTensors.open(weights)) {
            Map<String, SafeTensors.Entry> entries = st.entries();
            for (String key : new TreeSet<>(entries.keySet())) {
                Matcher m = KEY.matcher(key);
                if (!m.matches()) {
                    throw new Mm1Exception(weights + ": tensor '" + key + "' is not a LoRA tensor (expected "
                            + PEFT_PREFIX + "<module>.lora_A.weight / .lora_B.weight)");
                }
                String module = m.group(1);
                String weight = module + ".weight";
                if (!isLinear(model, weight)) {
                    throw new Mm1Exception(weights + ": tensor '" + key + "' adapts module '" + module + "', which "
                            + "this model (" + model.config().name() + ") does not have as a linear layer: an adapter "
                            + "for another model?");
                }
                Shape w = model.params().get(weight).getShape();
                long[] s = entries.get(key).shape();
                boolean isA = m.group(2).equals("A");
                long[] want = isA ? new long[] {cfg.rank(), w.get(1)} : new long[] {w.get(0), cfg.rank()};
                if (!java.util.Arrays.equals(s, want)) {
                    throw new Mm1Exception(weights + ": tensor '" + key + "' has shape " + java.util.Arrays.toString(s)
                            + " but this model's layer '" + module + "' " + w + " with r=" + cfg.rank() + " needs "
                            + java.util.Arrays.toString(want) + ": an adapter for another model shape");
                }
                String partner = isA ? bName(module) : aName(module);
                if (!entries.containsKey(partner)) {
                    throw new Mm1Exception(weights + ": tensor '" + key + "' has no partner '" + partner + "'");
                }
                l.modules.put(weight, module);
                model.params().put(key, model.params().manager().create(st.floats(key), new Shape(s)));
            }
        }
        if (l.modules.isEmpty()) {
            throw new Mm1Exception(weights + ": holds no LoRA tensors");
        }
        l.activate();
        return l;
    }

    /** The base weights the targets select: linear layers whose module name matches a target. */
    private void select() {
        Set<String> unmatched = new LinkedHashSet<>(config.targets());
        Set<String> available = new TreeSet<>();
        for (String name : params.all().keySet()) {
            if (!isLinear(model, name)) {
                continue;
            }
            String module = name.substring(0, name.length() - ".weight".length());
            available.add(module.substring(module.lastIndexOf('.') + 1));
            for (String t : config.targets()) {
                if (module.equals(t) || module.endsWith("." + t)) {
                    Shape w = params.get(name).getShape();
                    if (config.rank() > Math.min(w.get(0), w.get(1))) {
                        throw new Mm1Exception("--lora rank=" + config.rank() + " is larger than layer '" + module
                                + "' (" + w.get(0) + "×" + w.get(1) + "): choose rank <= " + Math.min(w.get(0),
                                w.get(1)));
                    }
                    modules.put(name, module);
                    unmatched.remove(t);
                }
            }
        }
        if (!unmatched.isEmpty()) {
            throw new Mm1Exception("--lora targets: '" + unmatched.iterator().next() + "' matches no linear layer of "
                    + "model '" + model.config().name() + "' (linear modules: " + String.join(", ", available) + ")");
        }
    }

    /**
     * True for the weights of linear layers that go through {@link ParamStore#linear}: 2-D {@code *.weight} of the
     * attention, MLP and connector projections; not embeddings, the LM head, positions or MoE routers.
     */
    static boolean isLinear(Mm1Model model, String name) {
        ParamStore p = model.params();
        if (!name.endsWith(".weight") || name.startsWith(PEFT_PREFIX) || !p.contains(name)
                || p.get(name).getShape().dimension() != 2) {
            return false;
        }
        return !name.equals(Decoder.EMBED) && !name.equals(Decoder.LM_HEAD) && !name.equals(VisionTransformer.POS)
                && !name.endsWith(".gate.weight") && !name.contains(".experts.");
    }

    /** Freezes the base model and routes the targeted layers through the adapter. */
    private void activate() {
        for (Mm1Model.Component c : Mm1Model.Component.values()) {
            model.freeze(c);
        }
        params.adapter(this);
    }

    static String aName(String module) {
        return PEFT_PREFIX + module + ".lora_A.weight";
    }

    static String bName(String module) {
        return PEFT_PREFIX + module + ".lora_B.weight";
    }

    @Override
    public boolean covers(String weightName) {
        return modules.containsKey(weightName);
    }

    @Override
    public boolean owns(String paramName) {
        return paramName.startsWith(PEFT_PREFIX);
    }

    /** {@code (α/r) · dropout(x) Aᵀ Bᵀ}; dropout only while training (gradient recording). */
    @Override
    public NDArray delta(String weightName, NDArray x) {
        String module = modules.get(weightName);
        NDArray in = config.dropout() > 0 && BlockScope.recording()
                ? Dropout.dropout(x, (float) config.dropout(), true).singletonOrThrow() : x;
        NDArray low = Ops.linear(in, params.get(aName(module))); // (…, r)
        return Ops.linear(low, params.get(bName(module))).mul(scaling); // (…, out)
    }

    public Config config() {
        return config;
    }

    /** Base weight name → module name of every adapted layer. */
    public Map<String, String> modules() {
        return java.util.Collections.unmodifiableMap(modules);
    }

    /** Trainable adapter parameters: r · (in + out) per layer. */
    public long parameterCount() {
        long n = 0;
        for (String module : modules.values()) {
            n += params.get(aName(module)).size() + params.get(bName(module)).size();
        }
        return n;
    }

    /**
     * Writes the PEFT folder: {@value #CONFIG_FILE} ({@code peft_type}, {@code r}, {@code lora_alpha},
     * {@code lora_dropout}, {@code target_modules}, …) and {@value #WEIGHTS_FILE} with PEFT's key names.
     *
     * @param baseModel recorded as {@code base_model_name_or_path}
     */
    public void save(Path dir, String baseModel) {
        try {
            Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new Mm1Exception(dir + ": cannot create: " + e.getMessage(), e);
        }
        ObjectNode c = RunConfig.JSON.createObjectNode();
        c.put("peft_type", "LORA");
        c.put("task_type", "CAUSAL_LM");
        c.put("base_model_name_or_path", baseModel);
        c.put("r", config.rank());
        c.put("lora_alpha", config.alpha());
        c.put("lora_dropout", config.dropout());
        config.targets().forEach(c.putArray("target_modules")::add);
        c.put("bias", "none");
        c.put("fan_in_fan_out", false);
        c.put("inference_mode", true);
        c.put("init_lora_weights", true);
        c.put("use_rslora", false);
        c.putNull("modules_to_save");
        c.putObject("rank_pattern");
        c.putObject("alpha_pattern");
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        for (String module : modules.values()) {
            for (String key : List.of(aName(module), bName(module))) {
                NDArray a = params.get(key);
                w.add(SafeTensorsWriter.Tensor.f32(key, a.getShape().getShape(),
                        a.toType(DataType.FLOAT32, false).toFloatArray()));
            }
        }
        w.write(dir.resolve(WEIGHTS_FILE));
        AtomicFiles.writeString(dir.resolve(CONFIG_FILE), c.toPrettyString());
    }

    /**
     * Folds the adapter into the base weights, {@code W ← W + (α/r)·B·A}, removes the adapter tensors and detaches
     * it: the model is then an ordinary model (PEFT's {@code merge_and_unload}).
     */
    public void merge() {
        params.adapter(null);
        try (NDScope scope = new NDScope()) {
            for (Map.Entry<String, String> e : modules.entrySet()) {
                NDArray w = params.get(e.getKey());
                NDArray ba = params.get(bName(e.getValue())).matMul(params.get(aName(e.getValue()))); // (out, in)
                w.addi(ba.mul(scaling).toType(w.getDataType(), false));
            }
            scope.suppressNotUsedWarning();
        }
        params.removeIf(n -> n.startsWith(PEFT_PREFIX));
        params.touch();
    }

    /** One line for the CLI: adapted layers, trainable share, rank. */
    public String describe() {
        long total = 0;
        for (Map.Entry<String, NDArray> e : params.all().entrySet()) {
            if (!owns(e.getKey())) {
                total += e.getValue().size();
            }
        }
        long n = parameterCount();
        return String.format(Locale.ROOT, "LoRA r=%d α=%s on %d layers: %,d trainable parameters (%.2f%% of %,d)",
                config.rank(), config.alpha(), modules.size(), n, 100.0 * n / Math.max(1, total), total);
    }
}
