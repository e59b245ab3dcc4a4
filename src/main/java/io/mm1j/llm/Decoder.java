package io.mm1j.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.config.LlmConfig;
import io.mm1j.nn.Attention;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.KvCache;
import io.mm1j.nn.Ops;
import io.mm1j.nn.ParamStore;
import io.mm1j.nn.Rope;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Llama decoder (dense or MoE): token embedding → N × [x + attn(rmsnorm(x)); x + ffn(rmsnorm(x))] → rmsnorm → LM
 * head. Parameters carry Hugging Face names, so {@code HfLlama} moves them in and out unchanged.
 *
 * <p>The decoder takes input <em>embeddings</em> so that MM1 can splice image tokens in before the first block
 * ({@code mllm.Mm1Model}); {@link #embed} gives the text part.
 */
public final class Decoder implements AutoCloseable {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private final LlmConfig config;
    private final ParamStore params;
    private final Rope rope;
    private final Attention attention;
    private final NDArray eps;
    private final NDArray scale;
    private final NDArray minusHalf; // RMSNorm's exponent
    private final NDArray invDim; // RMSNorm's 1/d

    /** Output of a forward pass: logits (B, T, V) and the summed MoE auxiliary loss (null for a dense model). */
    public record Output(NDArray logits, NDArray auxLoss, List<int[]> expertLoad,
                         List<MoeFeedForward.RouterLosses> routerLosses) {
        public Output(NDArray logits, NDArray auxLoss, List<int[]> expertLoad) {
            this(logits, auxLoss, expertLoad, List.of());
        }
    }

    /** Wraps existing parameters (loaded or initialised) with the config's shape. */
    public Decoder(LlmConfig config, ParamStore params) {
        this.config = config;
        this.params = params;
        NDManager m = params.manager();
        this.rope = new Rope(m, config.headDim(), config.maxPositions(), config.ropeTheta(), params.dtype());
        this.attention = new Attention(m);
        this.eps = params.scalar(config.rmsNormEps());
        this.scale = params.scalar(1.0 / Math.sqrt(config.headDim()));
        this.minusHalf = params.scalar(-0.5);
        this.invDim = params.scalar(1.0 / config.hiddenSize());
    }

    public static String layer(int i) {
        return "model.layers." + i + ".";
    }

    /**
     * Random initialisation: N(0, 0.02) for matrices, residual output projections scaled by 1/sqrt(2·layers)
     * (GPT-2), ones for norms.
     */
    public static Decoder init(LlmConfig c, NDManager manager, DataType dtype) {
        return init(c, new ParamStore(manager, dtype));
    }

    /**
     * Random initialisation into an existing store (an MM1 model keeps encoder, connector and LLM in one), tensor
     * by tensor in {@link #expectedShapes} order (the order fixes the seeded random stream).
     */
    public static Decoder init(LlmConfig c, ParamStore p) {
        double std = 0.02;
        double outStd = std / Math.sqrt(2.0 * c.numLayers());
        for (Map.Entry<String, Shape> e : expectedShapes(c).entrySet()) {
            String name = e.getKey();
            if (name.endsWith("layernorm.weight") || name.equals(NORM)) {
                p.ones(name, e.getValue());
            } else {
                p.normal(name, e.getValue(), isResidualOutput(name) ? outStd : std);
            }
        }
        return new Decoder(c, p);
    }

    /**
     * The projections that write into the residual stream (attention output, FFN down / expert w2): GPT-2 scales
     * their init by 1/sqrt(2·layers) so the stream's variance does not grow with depth.
     */
    private static boolean isResidualOutput(String name) {
        return name.endsWith("self_attn.o_proj.weight") || name.endsWith("mlp.down_proj.weight")
                || name.endsWith("experts.w2.weight");
    }

    /**
     * Every tensor, HF name → shape (stacked MoE experts), in init order: drives initialisation, loading and
     * export.
     */
    public static Map<String, Shape> expectedShapes(LlmConfig c) {
        Map<String, Shape> out = new LinkedHashMap<>();
        long d = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        out.put(EMBED, new Shape(c.vocabSize(), d));
        for (int i = 0; i < c.numLayers(); i++) {
            String l = layer(i);
            out.put(l + "input_layernorm.weight", new Shape(d));
            out.put(l + "self_attn.q_proj.weight", new Shape(q, d));
            out.put(l + "self_attn.k_proj.weight", new Shape(kv, d));
            out.put(l + "self_attn.v_proj.weight", new Shape(kv, d));
            out.put(l + "self_attn.o_proj.weight", new Shape(d, q));
            out.put(l + "post_attention_layernorm.weight", new Shape(d));
            if (c.isMoeLayer(i)) {
                long e = c.moe().numExperts();
                long f = c.expertIntermediate();
                String pre = MoeFeedForward.prefix(i);
                out.put(pre + "gate.weight", new Shape(e, d));
                out.put(pre + "experts.w1.weight", new Shape(e, f, d));
                out.put(pre + "experts.w3.weight", new Shape(e, f, d));
                out.put(pre + "experts.w2.weight", new Shape(e, d, f));
            } else {
                out.put(l + "mlp.gate_proj.weight", new Shape(c.intermediateSize(), d));
                out.put(l + "mlp.up_proj.weight", new Shape(c.intermediateSize(), d));
                out.put(l + "mlp.down_proj.weight", new Shape(d, c.intermediateSize()));
            }
        }
        out.put(NORM, new Shape(d));
        if (!c.tieEmbeddings()) {
            out.put(LM_HEAD, new Shape(c.vocabSize(), d));
        }
        return out;
    }

    /** True for tensor names that belong to the LLM (HF Llama names), as opposed to encoder/connector tensors. */
    public static boolean isDecoderTensor(String name) {
        return name.startsWith("model.") || name.equals(LM_HEAD);
    }

    public LlmConfig config() {
        return config;
    }

    public ParamStore params() {
        return params;
    }

    /** Token embeddings: ids (B, T) int64 → (B, T, D). */
    public NDArray embed(NDArray ids) {
        return Ops.rows(params.get(EMBED), ids);
    }

    /** Full forward from token ids (B, T) with no cache and no padding. */
    public Output forward(NDArray ids) {
        return forward(embed(ids), null, null, false);
    }

    /**
     * @param h        input embeddings (B, T, D)
     * @param keep     (B, S) 1 for real tokens, 0 for padding (S = cached + T), or null for no padding
     * @param cache    KV cache to read and extend, or null for a full-sequence pass
     * @param lastOnly compute logits for the last position only (decoding)
     * @return logits (B, T, V) or (B, 1, V), and the MoE auxiliary loss
     */
    public Output forward(NDArray h, NDArray keep, KvCache cache, boolean lastOnly) {
        return forward(h, keep, null, cache, lastOnly);
    }

    /**
     * The same with an extra additive attention mask, e.g. {@link Attention#documents} so that samples packed into
     * one row do not attend to each other.
     *
     * @param extraMask additive, broadcastable to (B, 1, 1, T, S), or null
     */
    public Output forward(NDArray h, NDArray keep, NDArray extraMask, KvCache cache, boolean lastOnly) {
        Hidden out = hidden(h, keep, extraMask, cache);
        return new Output(logits(out.h(), lastOnly), out.auxLoss(), out.expertLoad(), out.routerLosses());
    }

    /**
     * A forward that stops before the final norm and the LM head: the last layer's output (B, T, D) and the MoE
     * losses. A training step takes its loss from here ({@code Losses.headLoss}) without recording the logits.
     */
    public record Hidden(NDArray h, NDArray auxLoss, List<int[]> expertLoad,
                         List<MoeFeedForward.RouterLosses> routerLosses) {}

    /** {@link #forward(NDArray, NDArray, NDArray, KvCache, boolean)} up to the LM head's input (not normed). */
    public Hidden hidden(NDArray h, NDArray keep, NDArray extraMask, KvCache cache) {
        Context ctx = context(Math.toIntExact(h.getShape().get(1)), keep, extraMask, cache);
        NDArray aux = null;
        List<int[]> loads = new ArrayList<>();
        List<MoeFeedForward.RouterLosses> routerLosses = new ArrayList<>();
        NDArray x = h;
        for (int i = 0; i < config.numLayers(); i++) {
            Layer out = layer(ctx, i, h);
            if (h != x && !BlockScope.recording()) {
                h.close(); // inference: the previous hidden state is dead once the next exists
            }
            h = out.h();
            if (out.auxLoss() != null) {
                aux = aux == null ? out.auxLoss() : aux.add(out.auxLoss());
                loads.add(out.expertLoad());
                routerLosses.add(out.routerLosses());
            }
        }
        if (cache != null) {
            cache.advance(ctx.t());
        }
        return new Hidden(h, aux, loads, routerLosses);
    }

    /**
     * What every layer of one forward pass shares: the additive attention mask (causal + padding), the rotary
     * angles of the positions, the MoE routing flags of real tokens, and the KV cache.
     */
    public record Context(int t, NDArray mask, Rope.Angles angles, float[] tokenKeep, KvCache cache) {
        /**
         * This context for batch rows {@code [from, to)} alone (a per-row mask sliced, a broadcast one kept), for
         * running a layer over a chunk of the batch; without a KV cache only.
         */
        public Context rows(int from, int to) {
            if (cache != null) {
                throw new io.mm1j.Mm1Exception("a decoder context with a KV cache cannot be split into rows");
            }
            NDArray m = mask == null || mask.getShape().get(0) == 1 ? mask : mask.get(new NDIndex("{}:{}", from, to));
            float[] keep = tokenKeep == null ? null
                    : java.util.Arrays.copyOfRange(tokenKeep, from * t, to * t); // (B·T), row-major
            return new Context(t, m, angles, keep, null);
        }
    }

    /**
     * The per-pass inputs of the layers for T new positions. Arrays are created in the caller's scope, so build
     * it where it outlives every layer.
     *
     * @param t         new positions this pass
     * @param keep      (B, S) 1 for real tokens, 0 for padding (S = cached + T), or null
     * @param extraMask additive, broadcastable to (B, 1, 1, T, S) (e.g. {@link Attention#documents}), or null
     * @param cache     KV cache to read and extend, or null
     */
    public Context context(int t, NDArray keep, NDArray extraMask, KvCache cache) {
        int start = cache == null ? 0 : cache.length();
        int s = start + t;
        DataType dt = params.dtype();
        NDArray mask = t == 1 ? null : attention.causal(t, s, start, dt);
        float[] tokenKeep = null; // (B·T) for MoE routing: padding is not routed
        if (keep != null) {
            NDArray pad = Attention.padding(keep, dt);
            mask = mask == null ? pad : mask.add(pad);
            if (config.moe() != null) {
                tokenKeep = keep.get(new NDIndex().addAllDim().addSliceDim(start, s)).toType(DataType.FLOAT32, false)
                        .toFloatArray();
            }
        }
        if (extraMask != null) {
            mask = mask == null ? extraMask : mask.add(extraMask);
        }
        return new Context(t, mask, rope.angles(start, t), tokenKeep, cache);
    }

    /** One layer's result: hidden state (B, T, D), and for an MoE layer its weighted auxiliary loss and load. */
    public record Layer(NDArray h, NDArray auxLoss, int[] expertLoad, MoeFeedForward.RouterLosses routerLosses) {
        public Layer(NDArray h, NDArray auxLoss, int[] expertLoad) {
            this(h, auxLoss, expertLoad, null);
        }
    }

    /**
     * Decoder layer i: {@code h = h + attn(rmsnorm(h)); h = h + ffn(rmsnorm(h))}. Without gradient recording each
     * residual half keeps only its output ({@link BlockScope}), so a long prefill holds one half-layer's
     * intermediates at a time.
     */
    public Layer layer(Context ctx, int i, NDArray h) {
        NDArray mid = attentionHalf(ctx, i, h);
        Layer out = feedForwardHalf(ctx, i, mid);
        if (!BlockScope.recording()) {
            mid.close();
        }
        return out;
    }

    /** Layer i's first half: {@code h + attention(rmsnorm(h))} (one {@link BlockScope} step). */
    public NDArray attentionHalf(Context ctx, int i, NDArray h) {
        return BlockScope.run(() -> h.add(attention(ctx, i, h)));
    }

    /**
     * Layer i's second half on the attention half's output: {@code mid + ffn(rmsnorm(mid))}, dense or MoE (one
     * {@link BlockScope} step); {@code mid} stays open.
     */
    public Layer feedForwardHalf(Context ctx, int i, NDArray mid) {
        int[][] load = new int[1][];
        MoeFeedForward.RouterLosses[] router = new MoeFeedForward.RouterLosses[1];
        NDList out = BlockScope.runAll(() -> {
            String l = layer(i);
            if (!config.isMoeLayer(i)) { // per token, so a long prefill runs it over blocks of rows
                if (foldNorm(mid, ctx)) { // training: the norm's weight scales gate's and up's columns instead
                    NDArray w = params.get(l + "post_attention_layernorm.weight");
                    NDArray n = Ops.rmsNormUnweighted(mid, eps, minusHalf, invDim);
                    return new NDList(mid.add(params.linear(Ops.siluMul(project(n, l + "mlp.gate_proj.weight", w, true),
                            project(n, l + "mlp.up_proj.weight", w, true)), l + "mlp.down_proj.weight")));
                }
                return new NDList(mid.add(BlockScope.perRow(mid, config.intermediateSize(), x -> swiGlu(
                        Ops.rmsNorm(x, params.get(l + "post_attention_layernorm.weight"), eps, minusHalf, invDim),
                        l))));
            }
            NDArray m = Ops.rmsNorm(mid, params.get(l + "post_attention_layernorm.weight"), eps, minusHalf,
                    invDim);
            MoeFeedForward.Output mo = MoeFeedForward.forward(params, config, i, m, ctx.tokenKeep());
            load[0] = mo.expertLoad();
            router[0] = mo.routerLosses();
            return new NDList(mid.add(mo.y()), mo.auxLoss());
        });
        return new Layer(out.get(0), out.size() > 1 ? out.get(1) : null, load[0], router[0]);
    }

    /** {@code down_proj(silu(gate_proj(x)) * up_proj(x))} (Llama's SwiGLU, as {@link Ops#swiGlu}, adapter-aware). */
    private NDArray swiGlu(NDArray x, String l) {
        return params.linear(Ops.siluMul(params.linear(x, l + "mlp.gate_proj.weight"),
                params.linear(x, l + "mlp.up_proj.weight")), l + "mlp.down_proj.weight");
    }

    /**
     * Whether this forward takes {@link Rope#applyPaired}: while gradients are recorded (training, where RoPE's
     * four element-wise passes each way were ~8% of a step), over a whole sequence without a cache, with no
     * adapter on the projections and the fused kernel available. Inference keeps {@link Rope#apply}, which the KV
     * cache and the CPU decoder match bit for bit.
     */
    private boolean pairedRope(NDArray n, Context ctx) {
        return ctx.cache() == null && ctx.t() > 1 && params.adapter() == null && BlockScope.recording()
                && Rope.pairedAvailable(n.getDataType());
    }

    /**
     * Whether a training forward folds an RMSNorm's weight into the projections that read the norm:
     * {@code (x̂ ⊙ w)·Wᵀ = x̂·(W·diag(w))ᵀ}, scaling a (out, in) weight instead of a (B, T, in) activation each way
     * (one activation-sized product forward and two backward per norm; a mini step 1–1.5% faster, measured). Under
     * {@link #pairedRope}'s conditions (training, whole sequence, no adapter: an adapter reads the weighted norm),
     * float32/64; inference keeps the weighted norm that the KV cache and the CPU decoder match bit for bit.
     * {@code -Dmm1.foldNorms=false} keeps it in training too (for side-by-side timing).
     */
    private boolean foldNorm(NDArray x, Context ctx) {
        DataType t = x.getDataType();
        return (t == DataType.FLOAT32 || t == DataType.FLOAT64) && ctx.cache() == null && ctx.t() > 1
                && params.adapter() == null && BlockScope.recording()
                && !"false".equalsIgnoreCase(System.getProperty("mm1.foldNorms"));
    }

    /** Weight {@code name} (out, in), its columns scaled by the norm weight {@code w} (in) when {@code fold}. */
    private NDArray folded(String name, NDArray w, boolean fold) {
        return fold ? params.get(name).mul(w) : params.get(name);
    }

    /** {@code n·Wᵀ} for weight {@code name}, folded with {@code w} or else through the adapter-aware store. */
    private NDArray project(NDArray n, String name, NDArray w, boolean fold) {
        return fold ? Ops.linear(n, folded(name, w, true)) : params.linear(n, name);
    }

    /** {@code o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))}, {@code n = rmsnorm(h)}; extends the cache. */
    private NDArray attention(Context ctx, int i, NDArray h) {
        String l = layer(i);
        long b = h.getShape().get(0);
        int t = ctx.t();
        int nh = config.numHeads();
        int kvh = config.numKvHeads();
        int hd = config.headDim();
        NDArray w = params.get(l + "input_layernorm.weight");
        boolean fold = foldNorm(h, ctx); // training: the norm's weight scales the projections' columns instead
        NDArray n = fold ? Ops.rmsNormUnweighted(h, eps, minusHalf, invDim)
                : Ops.rmsNorm(h, w, eps, minusHalf, invDim);
        NDArray q;
        NDArray k;
        if (pairedRope(n, ctx)) {
            // training: queries and keys projected with their rows in pair order, rotated by one complex product
            // per pair each way (the attention scores are the same sums of products, added in another order)
            q = rope.applyPaired(Ops.linear(n, rope.pairRows(folded(l + "self_attn.q_proj.weight", w, fold), nh)),
                    nh, ctx.angles());
            k = rope.applyPaired(Ops.linear(n, rope.pairRows(folded(l + "self_attn.k_proj.weight", w, fold), kvh)),
                    kvh, ctx.angles());
        } else {
            q = rope.apply(heads(project(n, l + "self_attn.q_proj.weight", w, fold), b, t, nh, hd), ctx.angles());
            k = rope.apply(heads(project(n, l + "self_attn.k_proj.weight", w, fold), b, t, kvh, hd), ctx.angles());
        }
        NDArray v = heads(project(n, l + "self_attn.v_proj.weight", w, fold), b, t, kvh, hd); // (B, KV, T, hd)
        if (ctx.cache() != null) {
            NDArray[] kv = ctx.cache().append(i, k, v); // (B, KV, S, hd)
            k = kv[0];
            v = kv[1];
        }
        NDArray a = Attention.attend(q, k, v, ctx.mask(), attention.isCausal(ctx.mask()), scale); // (B, H, T, hd)
        a = (t == 1 ? a : a.transpose(0, 2, 1, 3)).reshape(b, t, (long) nh * hd); // (B, T, H·hd)
        return params.linear(a, l + "self_attn.o_proj.weight");
    }

    /**
     * One decode step of B independent sequences, each with its own batch-1 KV cache at its own position
     * (continuous batching): the projections, the feed-forward and the head run once over all B rows; RoPE and
     * attention run per sequence over its own cache. Every cache advances by one.
     *
     * @param h      input embeddings (B, 1, D), row b for {@code caches[b]}
     * @param caches B caches made by {@link #newCache} with batch 1
     * @return logits (B, 1, V)
     */
    public NDArray stepBatch(NDArray h, KvCache[] caches) {
        long b = h.getShape().get(0);
        if (h.getShape().dimension() != 3 || h.getShape().get(1) != 1 || b != caches.length) {
            throw new io.mm1j.Mm1Exception("stepBatch: expected (" + caches.length + ", 1, D) inputs, got "
                    + h.getShape());
        }
        int nh = config.numHeads();
        int kvh = config.numKvHeads();
        int hd = config.headDim();
        Rope.Angles[] angles = new Rope.Angles[caches.length];
        for (int s = 0; s < caches.length; s++) {
            angles[s] = rope.angles(caches[s].length(), 1);
        }
        Context ctx = new Context(1, null, null, null, null);
        for (int i = 0; i < config.numLayers(); i++) {
            String l = layer(i);
            NDArray n = Ops.rmsNorm(h, params.get(l + "input_layernorm.weight"), eps, minusHalf, invDim);
            NDArray q = params.linear(n, l + "self_attn.q_proj.weight"); // (B, 1, H·hd)
            NDArray k = params.linear(n, l + "self_attn.k_proj.weight");
            NDArray v = params.linear(n, l + "self_attn.v_proj.weight");
            NDList rows = new NDList();
            for (int s = 0; s < caches.length; s++) {
                NDIndex row = new NDIndex().addSliceDim(s, s + 1);
                NDArray qs = rope.apply(heads(q.get(row), 1, 1, nh, hd), angles[s]); // (1, H, 1, hd)
                NDArray ks = rope.apply(heads(k.get(row), 1, 1, kvh, hd), angles[s]);
                NDArray[] kv = caches[s].append(i, ks, heads(v.get(row), 1, 1, kvh, hd)); // (1, KV, S, hd)
                rows.add(Attention.attend(qs, kv[0], kv[1], null, scale).reshape(1, 1, (long) nh * hd));
            }
            NDArray a = rows.size() == 1 ? rows.get(0) : NDArrays.concat(rows, 0); // (B, 1, H·hd)
            NDArray mid = h.add(params.linear(a, l + "self_attn.o_proj.weight"));
            h = feedForwardHalf(ctx, i, mid).h();
        }
        for (KvCache c : caches) {
            c.advance(1);
        }
        return logits(h, true);
    }

    /** Final norm and LM head: {@code h (B, T, D)} → logits (B, T, V), or (B, 1, V) for the last position only. */
    public NDArray logits(NDArray h, boolean lastOnly) {
        long t = h.getShape().get(1);
        if (lastOnly && t > 1) {
            h = h.get(new NDIndex().addAllDim().addSliceDim(t - 1, t)); // (B, 1, D)
        }
        return Ops.linear(headInput(h), headWeight());
    }

    /** The final RMSNorm of {@code h} (…, D): the LM head's input. */
    public NDArray headInput(NDArray h) {
        return Ops.rmsNorm(h, params.get(NORM), eps, minusHalf, invDim);
    }

    /** The LM head's weight (V, D): the token embedding when tied. */
    public NDArray headWeight() {
        return config.tieEmbeddings() ? params.get(EMBED) : params.get(LM_HEAD);
    }

    /** (B, T, n·hd) → (B, n, T, hd); for T = 1 both layouts are the same memory, so no transpose is needed. */
    private static NDArray heads(NDArray x, long b, int t, int n, int hd) {
        return t == 1 ? x.reshape(b, n, 1, hd) : x.reshape(b, t, n, hd).transpose(0, 2, 1, 3);
    }

    private CpuDecoder cpu;
    private long cpuVersion = -1;
    private Int8Weights int8; // the int8 form of the matrices that the CPU decode path reads, or null (float32)
    private long int8Version = -1;

    /**
     * Quantises every weight matrix to int8 with {@code group} columns per scale ({@link Int8Matrix}): the CPU decode
     * path then reads int8, and the parameters are replaced by their dequantised values, so every path computes the
     * same model. For inference (dense decoders only).
     */
    public void quantizeInt8(int group) {
        useInt8(Int8Weights.quantize(this, group));
    }

    /** Makes {@code w} (e.g. read from an int8 model folder) the CPU decode path's form of those matrices. */
    public synchronized void useInt8(Int8Weights w) {
        w.applyTo(params);
        int8 = w;
        int8Version = params.version();
        releaseCpuDecoder();
    }

    /**
     * The int8 matrices, or null for a float32 model. After the parameters changed (e.g. a training step) the same
     * matrices are quantised again from the new values.
     */
    public synchronized Int8Weights int8Weights() {
        if (int8 != null && int8Version != params.version()) {
            Map<String, Int8Matrix> again = new LinkedHashMap<>();
            int8.all().forEach((name, m) -> again.putAll(Int8Weights.quantize(this, List.of(name), m.group()).all()));
            int8 = Int8Weights.of(again);
            int8Version = params.version();
        }
        return int8;
    }

    /**
     * The plain-Java batch-1 decode path over a snapshot of the current weights (rebuilt when they change) with a
     * KV cache for {@code capacity} positions, or null when it does not apply ({@link CpuDecoder#supports}; a
     * generator asked for {@link DecodePath#DJL} does not call this). The instance is shared: a generation
     * {@linkplain CpuDecoder#acquire acquires} it, holds its monitor for its whole run and sizes it with
     * {@link CpuDecoder#ensureCapacity} under that monitor; a replaced snapshot stops once its last user is done.
     */
    public synchronized CpuDecoder cpuDecoder(int capacity) {
        if (!CpuDecoder.supports(this, capacity)) {
            return null;
        }
        if (cpu == null || cpuVersion != params.version()) {
            releaseCpuDecoder();
            int threads = Integer.getInteger("ai.djl.pytorch.num_threads", Runtime.getRuntime().availableProcessors());
            cpu = new CpuDecoder(this, capacity, threads);
            cpuVersion = params.version();
        }
        return cpu; // the caller sizes it with ensureCapacity while holding its monitor (see Generator)
    }

    /** True once a generation on the CPU path has built the weight snapshot (and not released it). */
    synchronized boolean hasCpuDecoder() {
        return cpu != null;
    }

    /** {@link #cpuDecoder(int)} with a small cache (tests and short generations). */
    public CpuDecoder cpuDecoder() {
        return cpuDecoder(64);
    }

    /** Stops the CPU decode path's threads and drops its weight snapshot (the decoder stays usable). */
    public synchronized void releaseCpuDecoder() {
        if (cpu != null) {
            cpu.close(); // retires it: a generation still using it finishes first (CpuDecoder.acquire/release)
            cpu = null;
        }
    }

    /** Releases the CPU decode path and the parameters. */
    @Override
    public void close() {
        releaseCpuDecoder();
        params.close();
    }

    /** A KV cache sized for this decoder. */
    public KvCache newCache(int batch, int capacity) {
        return new KvCache(params.manager(), config.numLayers(), batch, config.numKvHeads(), config.headDim(),
                Math.min(capacity, config.maxPositions()), params.dtype());
    }
}
