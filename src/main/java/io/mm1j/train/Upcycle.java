package io.mm1j.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.Mm1Exception;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.MoeConfig;
import io.mm1j.io.OutputDir;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.MoeFeedForward;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.Engines;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * {@code mm1 upcycle}: sparse upcycling of a dense model (MM1 §3.3, MM1_SPEC.md §1): every {@code every}-th FFN
 * becomes an MoE layer whose {@code experts} all start as copies of that FFN, with a fresh router and MM1's top-2
 * routing, balance loss 0.01 and router z-loss 0.001. Every other tensor (encoder, connector, attention, norms,
 * embeddings) is copied unchanged, so the upcycled model computes exactly the dense model's logits until training
 * moves the experts apart. The result is an ordinary model folder for {@code pretrain --init}.
 */
public final class Upcycle {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Upcycle.class);

    /** Llama's initializer range, as the decoder's own router init. */
    static final double ROUTER_STD = 0.02;

    private Upcycle() {}

    /**
     * @param model a model folder, or a run folder (its {@code model/} or newest checkpoint), holding a dense decoder
     * @param seed  seeds the routers' random init
     * @return the upcycled model's config
     */
    public static Mm1Config run(Path model, int experts, int every, Path out, boolean overwrite, int seed) {
        Path dir = Mm1Model.resolveFolder(model);
        try (OutputDir target = OutputDir.create(out, overwrite, "--out");
             NDManager root = Engines.newRootManager(seed);
             Mm1Model dense = Mm1Model.load(dir, root, DataType.FLOAT32);
             Mm1Model sparse = upcycle(dense, experts, every, root)) {
            sparse.save(target.staging());
            Path tok = dir.resolve("tokenizer.json");
            if (Files.isRegularFile(tok)) {
                Files.copy(tok, target.staging().resolve("tokenizer.json"));
            }
            target.commit();
            LOG.info("upcycled {} → {}: {} experts every {} layer(s)", dir, out, experts, every);
            return sparse.config();
        } catch (IOException e) {
            throw new Mm1Exception("--out " + out + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** The MoE model made from {@code dense} (which stays open; the caller closes both). */
    public static Mm1Model upcycle(Mm1Model dense, int experts, int every, NDManager manager) {
        Mm1Config dc = dense.config();
        if (dc.llm().moe() != null) {
            throw new Mm1Exception("--model: already a mixture-of-experts model (" + dc.llm().moe().numExperts()
                    + " experts)");
        }
        if (every > dc.llm().numLayers()) {
            throw new Mm1Exception("--every " + every + ": the model has only " + dc.llm().numLayers()
                    + " layers, so no layer would become MoE");
        }
        MoeConfig moe = MoeConfig.mm1(experts, every); // top-2, balance 0.01, z 0.001, experts as wide as the FFN
        Mm1Config sc = dc.withLlm(dc.llm().withMoe(moe));
        Mm1Model sparse = Mm1Model.init(sc, manager, dense.params().dtype());
        ParamStore from = dense.params();
        ParamStore to = sparse.params();
        Set<String> filled = new HashSet<>();
        from.all().forEach((name, a) -> {
            if (to.contains(name)) {
                to.put(name, a.duplicate());
                filled.add(name);
            }
        });
        for (int i = 0; i < sc.llm().numLayers(); i++) {
            if (!sc.llm().isMoeLayer(i)) {
                continue;
            }
            String l = Decoder.layer(i);
            MoeFeedForward.upcycle(to, sc.llm(), i, from.get(l + "mlp.gate_proj.weight").duplicate(),
                    from.get(l + "mlp.up_proj.weight").duplicate(), from.get(l + "mlp.down_proj.weight").duplicate(),
                    ROUTER_STD);
            String pre = MoeFeedForward.prefix(i);
            filled.add(pre + "experts.w1.weight");
            filled.add(pre + "experts.w2.weight");
            filled.add(pre + "experts.w3.weight");
            filled.add(pre + "gate.weight"); // the router: fresh, as in sparse upcycling
        }
        for (String name : to.all().keySet()) {
            if (!filled.contains(name)) {
                sparse.close();
                throw new IllegalStateException("upcycling left '" + name + "' at its random init");
            }
        }
        return sparse;
    }
}
