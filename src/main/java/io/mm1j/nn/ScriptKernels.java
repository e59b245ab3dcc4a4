package io.mm1j.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * libtorch's fused kernels that DJL's NDArray API does not reach — {@code torch.scaled_dot_product_attention}
 * (the CPU flash-attention kernel: no (T, S) score matrix is kept for the backward) and
 * {@code torch._fused_adamw_} (one pass over all tensors of a group), {@code torch.silu} (one kernel for its
 * gradient instead of four composed ones) and {@code torch._foreach_norm} / {@code _foreach_mul_} (every gradient's
 * norm, and the clipping, in one call each) — called through a TorchScript module that
 * mm1j writes itself: a parameterless module whose {@code code/__torch__.py} calls the op, zipped in memory in
 * the TorchScript archive layout ({@code data.pkl}: a pickled instance of the class; {@code code/}: its source;
 * {@code constants.pkl}; {@code version}) and loaded with {@link JniUtils#loadModule}. Calls go through the
 * autograd dispatcher like any other op, so gradients flow through the attention.
 *
 * <p>Each kernel is loaded once per process on first use; when the libtorch in use lacks the op (the module fails
 * to compile) or the engine is not PyTorch, {@link #attention()} / {@link #adamW()} return null and callers keep
 * their composed form. {@code -Dmm1.fusedKernels=false} turns them all off (for comparisons).
 */
public final class ScriptKernels {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ScriptKernels.class);

    private static final String HEADER = """
            class %s(Module):
              __parameters__ = []
              __buffers__ = []
              training : bool
              _is_full_backward_hook : Optional[bool]
            """;

    /** forward: causal; masked: an additive mask broadcastable to (B, H, T, S); plain: no mask. */
    static final String ATTENTION_SOURCE = HEADER.formatted("Attention") + sdpa("forward", false, true)
            + sdpa("masked", true, false) + sdpa("plain", false, false);

    /** One method calling torch.scaled_dot_product_attention (GQA when K/V have fewer heads than Q). */
    private static String sdpa(String method, boolean mask, boolean causal) {
        return "  def " + method + "(self: __torch__.Attention,\n"
                + "    q: Tensor,\n    k: Tensor,\n    v: Tensor,\n" + (mask ? "    mask: Tensor,\n" : "")
                + "    scale: Tensor) -> Tensor:\n"
                + "    return torch.scaled_dot_product_attention(q, k, v, " + (mask ? "mask" : "None") + ", 0., "
                + (causal ? "True" : "False") + ", scale=float(scale), enable_gqa=q.size(1) != k.size(1))\n";
    }

    static final String ADAMW_SOURCE = HEADER.formatted("AdamW") + """
              def forward(self: __torch__.AdamW,
                params: List[Tensor],
                grads: List[Tensor],
                exp_avgs: List[Tensor],
                exp_avg_sqs: List[Tensor],
                steps: List[Tensor],
                lr: float,
                beta1: float,
                beta2: float,
                weight_decay: float,
                eps: float) -> None:
                torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=beta1, \
            beta2=beta2, weight_decay=weight_decay, eps=eps, amsgrad=False, maximize=False, grad_scale=None, \
            found_inf=None)
            """;

    /** forward: silu(g) · u (the SwiGLU product); silu: silu(x). aten's SiLU has one fused backward kernel. */
    static final String SILU_SOURCE = HEADER.formatted("Silu") + """
              def forward(self: __torch__.Silu,
                g: Tensor,
                u: Tensor) -> Tensor:
                return torch.mul(torch.silu(g), u)
              def silu(self: __torch__.Silu,
                x: Tensor) -> Tensor:
                return torch.silu(x)
            """;

    /**
     * forward: the L2 norm of every tensor (one {@code _foreach_norm} pass each, no squared copy), as float64;
     * scale: every tensor multiplied in place by a factor.
     */
    static final String NORMS_SOURCE = HEADER.formatted("Norms") + """
              def forward(self: __torch__.Norms,
                tensors: List[Tensor]) -> Tensor:
                return torch.stack([n.double() for n in torch._foreach_norm(tensors, 2.)])
              def scale(self: __torch__.Norms,
                tensors: List[Tensor],
                factor: float) -> None:
                torch._foreach_mul_(tensors, factor)
            """;

    /**
     * forward: rotary embedding of x (B, T, n, hd), each head's dims in pair order (x[2i], x[2i+1]), as one complex
     * product per pair with {@code cs} (T, 1, hd/2, 2) = (cos, sin): a pass each way instead of four.
     */
    static final String ROPE_SOURCE = HEADER.formatted("Rope") + """
              def forward(self: __torch__.Rope,
                x: Tensor,
                cs: Tensor) -> Tensor:
                s = x.size()
                z = torch.view_as_complex(x.reshape([s[0], s[1], s[2], s[3] // 2, 2]))
                return torch.view_as_real(z * torch.view_as_complex(cs)).flatten(3)
            """;

    /**
     * forward: the cross-entropy of logits x (N, V) against targets t (N, 1) and its gradient, computed without
     * autograd: [nll (N, 1), g (N, V) = softmax(x) − onehot(t)], the rows listed in {@code drop} (K,) zeroed in g.
     * The NLL is read from log_softmax, so it equals the composed loss bit for bit whatever N is (a row's result
     * never depends on the other rows); g is its exp, made in place.
     */
    static final String CROSS_ENTROPY_SOURCE = HEADER.formatted("CrossEntropy") + """
              def forward(self: __torch__.CrossEntropy,
                x: Tensor,
                t: Tensor,
                drop: Tensor) -> List[Tensor]:
                g = torch.log_softmax(x, -1)
                nll = torch.neg(torch.gather(g, -1, t))
                g.exp_()
                g.scatter_add_(-1, t, torch.neg(torch.ones_like(nll)))
                if torch.numel(drop) > 0:
                  g.index_fill_(0, drop, 0.)
                return [nll, g]
            """;

    private static final Object LOCK = new Object();
    private static final java.util.Map<String, Loaded> LOADED = new java.util.HashMap<>();

    private ScriptKernels() {}

    /** A loaded module, or the reason it could not be loaded. */
    private record Loaded(PtSymbolBlock block, String failure) {}

    /** The attention module, or null when unavailable. */
    static PtSymbolBlock attention() {
        return module("Attention", ATTENTION_SOURCE);
    }

    /** The AdamW module, or null when unavailable. */
    public static PtSymbolBlock adamW() {
        return module("AdamW", ADAMW_SOURCE);
    }

    /** The SiLU module, or null when unavailable. */
    static PtSymbolBlock silu() {
        return module("Silu", SILU_SOURCE);
    }

    /** The rotary-embedding module, or null when unavailable. */
    static PtSymbolBlock rope() {
        return module("Rope", ROPE_SOURCE);
    }

    /** Whether {@link #rotatePairs} is available (on, and the module loads). */
    public static boolean ropeAvailable() {
        return rope() != null;
    }

    /**
     * Rotates each pair (x[2i], x[2i+1]) of every head of {@code x} (B, T, n, hd) by the angle whose (cos, sin)
     * {@code cs} (T, 1, hd/2, 2) holds: {@code (a·c − b·s, a·s + b·c)}, recorded for autograd; null when
     * unavailable.
     */
    public static NDArray rotatePairs(NDArray x, NDArray cs) {
        PtSymbolBlock block = rope();
        return block == null ? null : call(block, "forward", new NDList(unnamed(x), unnamed(cs)));
    }

    /** The cross-entropy module, or null when unavailable. */
    static PtSymbolBlock crossEntropy() {
        return module("CrossEntropy", CROSS_ENTROPY_SOURCE);
    }

    /**
     * Whether {@link #crossEntropyGradient} runs: kernels on, not switched off by
     * {@code -Dmm1.fusedCrossEntropy=false}, and the module loads.
     */
    public static boolean crossEntropyAvailable() {
        return !"false".equalsIgnoreCase(System.getProperty("mm1.fusedCrossEntropy")) && crossEntropy() != null;
    }

    /**
     * Token NLL and its gradient with respect to the logits, outside autograd: {@code x} (N, V) float32/64 logits
     * (detached), {@code t} (N, 1) int64 targets, {@code drop} (K,) int64 rows whose gradient is zeroed (K may be
     * 0). Returns [nll (N, 1), g (N, V) = softmax(x) − onehot(t)], or null when off or unavailable.
     */
    public static NDList crossEntropyGradient(NDArray x, NDArray t, NDArray drop) {
        if (!crossEntropyAvailable()) { // -Dmm1.fusedCrossEntropy=false keeps the composed loss (for timing)
            return null;
        }
        return IValueUtils.forward(crossEntropy(), new NDList(unnamed(x), unnamed(t), unnamed(drop)), true);
    }

    /** The norms module, or null when unavailable. */
    static PtSymbolBlock norms() {
        return module("Norms", NORMS_SOURCE);
    }

    /** The module {@code name}, loaded on first use (a failure is remembered), or null when off or unavailable. */
    private static PtSymbolBlock module(String name, String source) {
        if (!enabled()) {
            return null;
        }
        synchronized (LOCK) {
            return LOADED.computeIfAbsent(name, n -> load(n, source)).block();
        }
    }

    /**
     * Which form each kernel takes in this process, for benchmark reports: {@code attention} and {@code adamw} →
     * {@code fused}, {@code off} ({@code -Dmm1.fusedKernels=false}) or {@code composed: <why the module failed>}.
     */
    public static java.util.Map<String, String> status() {
        java.util.Map<String, String> out = new java.util.LinkedHashMap<>();
        String[][] kernels = {{"attention", "Attention", ATTENTION_SOURCE}, {"adamw", "AdamW", ADAMW_SOURCE},
            {"silu", "Silu", SILU_SOURCE}, {"norms", "Norms", NORMS_SOURCE}, {"rope", "Rope", ROPE_SOURCE},
            {"crossEntropy", "CrossEntropy", CROSS_ENTROPY_SOURCE}};
        for (String[] k : kernels) {
            if (!enabled()) {
                out.put(k[0], "off");
                continue;
            }
            module(k[1], k[2]);
            synchronized (LOCK) {
                Loaded l = LOADED.get(k[1]);
                out.put(k[0], l.block() == null ? "composed: " + l.failure()
                        : k[0].equals("rope") && "false".equalsIgnoreCase(System.getProperty("mm1.pairedRope"))
                        ? "off (-Dmm1.pairedRope=false)"
                        : k[0].equals("crossEntropy")
                        && "false".equalsIgnoreCase(System.getProperty("mm1.fusedCrossEntropy"))
                        ? "off (-Dmm1.fusedCrossEntropy=false)" : "fused");
            }
        }
        return out;
    }

    /** False under {@code -Dmm1.fusedKernels=false} (read at every call, so a test can compare both forms). */
    public static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty("mm1.fusedKernels", "true"));
    }

    private static Loaded load(String name, String source) {
        try {
            if (!"PyTorch".equals(Engine.getInstance().getEngineName())) {
                return new Loaded(null, "engine is not PyTorch");
            }
            // a manager that lives as long as the process: the module holds no tensors
            NDManager m = Engine.getEngine("PyTorch").newBaseManager();
            // run the modules' ops one by one, as eager calls: the profiling executor would otherwise re-derive
            // their gradients symbolically (aten's SiLU backward became a composed one, 20-30% slower than the
            // ops it replaced). Global to libtorch, and mm1j loads no other TorchScript.
            JniUtils.setGraphExecutorOptimize(false);
            byte[] archive = archive(name, source);
            PtSymbolBlock b = JniUtils.loadModule((PtNDManager) m, new ByteArrayInputStream(archive), false, false);
            return new Loaded(b, null);
        } catch (RuntimeException | IOException | LinkageError e) {
            LOG.info("fused {} kernel unavailable, using the composed form: {}", name, e.toString());
            return new Loaded(null, e.toString());
        }
    }

    /**
     * The TorchScript archive of a parameterless module {@code name} with {@code source} as its code: the pickle
     * of an instance (protocol 2: class global, empty state dict with {@code training} and
     * {@code _is_full_backward_hook}), the source, an empty constants tuple and the format version.
     */
    static byte[] archive(String name, String source) throws IOException {
        ByteArrayOutputStream pkl = new ByteArrayOutputStream();
        pkl.write(new byte[] {(byte) 0x80, 2}); // PROTO 2
        pkl.write(('c' + "__torch__\n" + name + "\n").getBytes(StandardCharsets.US_ASCII)); // GLOBAL
        pkl.write(new byte[] {'q', 0, ')', (byte) 0x81, '}', '('}); // BINPUT, EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, MARK
        unicode(pkl, "training");
        pkl.write(new byte[] {'q', 1, (byte) 0x88}); // BINPUT, NEWTRUE
        unicode(pkl, "_is_full_backward_hook");
        pkl.write(new byte[] {'q', 2, 'N', 'u', 'b', 'q', 3, '.'}); // BINPUT, NONE, SETITEMS, BUILD, BINPUT, STOP
        String dir = "mm1j_" + name.toLowerCase(java.util.Locale.ROOT) + "/";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            stored(zip, dir + "data.pkl", pkl.toByteArray());
            stored(zip, dir + "code/__torch__.py", source.getBytes(StandardCharsets.UTF_8));
            stored(zip, dir + "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});
            stored(zip, dir + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        return out.toByteArray();
    }

    private static void unicode(ByteArrayOutputStream pkl, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        pkl.write('X'); // BINUNICODE: 4-byte little-endian length
        pkl.write(b.length);
        pkl.write(b.length >>> 8);
        pkl.write(b.length >>> 16);
        pkl.write(b.length >>> 24);
        pkl.write(b, 0, b.length);
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        e.setTime(0);
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /**
     * {@code softmax(q·kᵀ·scale + mask)·v} by libtorch's fused kernel, recorded for autograd when gradients are.
     *
     * @param q      (B, H, T, hd)
     * @param k      (B, KV, S, hd), KV dividing H
     * @param mask   additive, broadcastable to (B, 1, T, S), or null
     * @param causal true for the causal mask of a full sequence (then {@code mask} is ignored)
     * @param scale  a 0-d array
     * @return (B, H, T, hd), or null when the kernel is unavailable
     */
    static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causal, NDArray scale) {
        PtSymbolBlock block = attention();
        if (block == null) {
            return null;
        }
        NDList in = new NDList(unnamed(q), unnamed(k), unnamed(v));
        if (!causal && mask != null) {
            in.add(unnamed(mask));
        }
        in.add(unnamed(scale));
        return call(block, causal ? "forward" : mask != null ? "masked" : "plain", in);
    }

    /**
     * {@code block}'s method {@code name} on {@code in}, recorded for autograd. DJL's convention for a method other
     * than forward: a first input named {@code module_method:NAME} (made here and closed after the call).
     */
    private static NDArray call(PtSymbolBlock block, String name, NDList in) {
        if (name.equals("forward")) {
            return IValueUtils.forward(block, in, true).singletonOrThrow();
        }
        NDArray method = in.head().getManager().create(0f);
        method.setName("module_method:" + name);
        in.add(0, method);
        try {
            return IValueUtils.forward(block, in, true).singletonOrThrow();
        } finally {
            method.close();
        }
    }

    /**
     * {@code silu(g) · u} by aten's SiLU (one kernel forward, one for its gradient), or null when unavailable.
     */
    static NDArray siluMul(NDArray g, NDArray u) {
        PtSymbolBlock block = silu();
        return block == null ? null : call(block, "forward", new NDList(unnamed(g), unnamed(u)));
    }

    /** {@code silu(x)} by aten's SiLU, or null when unavailable. */
    static NDArray silu(NDArray x) {
        PtSymbolBlock block = silu();
        return block == null ? null : call(block, "silu", new NDList(unnamed(x)));
    }

    /**
     * DJL turns named inputs into lists, tuples and dicts by their names; an unnamed view of the same tensor goes
     * in as a plain tensor.
     */
    private static NDArray unnamed(NDArray x) {
        return x.getName() == null || x.getName().isEmpty() ? x : x.reshape(x.getShape());
    }

    /**
     * One fused AdamW update (PyTorch's convention: {@code p ← p·(1 − lr·wd) − lr·m̂/(√v̂ + eps)}) of every
     * tensor in the group, in place; {@code step} is the step count after this update (bias corrections).
     *
     * @return false when the kernel is unavailable (nothing was changed)
     */
    public static boolean adamW(List<NDArray> params, List<NDArray> grads, List<NDArray> m, List<NDArray> v,
                         NDArray step, double lr, double beta1, double beta2, double weightDecay, double eps) {
        PtSymbolBlock block = adamW();
        if (block == null) {
            return false;
        }
        PtNDArray[] steps = new PtNDArray[params.size()];
        java.util.Arrays.fill(steps, (PtNDArray) step);
        IValue[] args = {list(params), list(grads), list(m), list(v), IValue.listFrom(steps), IValue.from(lr),
                IValue.from(beta1), IValue.from(beta2), IValue.from(weightDecay), IValue.from(eps)};
        try (IValue r = IValueUtils.runMethod(block, "forward", args)) {
            return true;
        } finally {
            for (IValue a : args) {
                a.close();
            }
        }
    }

    /**
     * ‖t‖² of each tensor (float32/64 only), in order, from one native call and one transfer; null when the kernel
     * is off or unavailable, or a tensor has another dtype.
     */
    public static double[] squaredNorms(List<NDArray> tensors) {
        PtSymbolBlock block = norms();
        if (block == null || tensors.isEmpty() || !floating(tensors)) {
            return null;
        }
        IValue[] args = {list(tensors)};
        try (IValue r = IValueUtils.runMethod(block, "forward", args);
             NDArray norms = r.toTensor((PtNDManager) tensors.get(0).getManager())) {
            double[] out = norms.toDoubleArray();
            for (int i = 0; i < out.length; i++) {
                out[i] *= out[i];
            }
            return out;
        } finally {
            args[0].close();
        }
    }

    /** Multiplies every tensor by {@code factor} in place; false (nothing changed) when off or unavailable. */
    public static boolean scaleInPlace(List<NDArray> tensors, double factor) {
        PtSymbolBlock block = norms();
        if (block == null || tensors.isEmpty() || !floating(tensors)) {
            return false;
        }
        IValue[] args = {list(tensors), IValue.from(factor)};
        try (IValue r = IValueUtils.runMethod(block, "scale", args)) {
            return true;
        } finally {
            for (IValue a : args) {
                a.close();
            }
        }
    }

    private static boolean floating(List<NDArray> tensors) {
        for (NDArray t : tensors) {
            ai.djl.ndarray.types.DataType d = t.getDataType();
            if (d != ai.djl.ndarray.types.DataType.FLOAT32 && d != ai.djl.ndarray.types.DataType.FLOAT64) {
                return false;
            }
        }
        return true;
    }

    private static IValue list(List<NDArray> arrays) {
        return IValue.listFrom(arrays.toArray(new PtNDArray[0]));
    }
}
