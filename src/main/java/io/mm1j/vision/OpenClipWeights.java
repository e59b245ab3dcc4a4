package io.mm1j.vision;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.ParamStore;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.WeightFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * OpenCLIP's visual tower ({@code visual.*}, e.g. {@code apple/DFN5B-CLIP-ViT-H-14-378}, MM1's final encoder) mapped
 * onto the HF CLIPVisionModel names {@link VisionTransformer} uses. The tensors are the same; only the names differ,
 * except attention: OpenCLIP keeps {@code nn.MultiheadAttention}'s fused {@code in_proj_weight (3D, D)} and
 * {@code in_proj_bias (3D)}, which split in q, k, v order into HF's three projections.
 *
 * <pre>
 *   visual.conv1.weight          → embeddings.patch_embedding.weight
 *   visual.class_embedding       → embeddings.class_embedding
 *   visual.positional_embedding  → embeddings.position_embedding.weight
 *   visual.ln_pre / ln_post      → pre_layrnorm / post_layernorm
 *   visual.transformer.resblocks.N.{ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}
 *                                → encoder.layers.N.{layer_norm1, self_attn.{q,k,v}_proj, self_attn.out_proj,
 *                                  layer_norm2, mlp.fc1, mlp.fc2}
 * </pre>
 * {@code visual.proj} (the contrastive head) is not part of the encoder MM1 uses and is ignored, as is the text tower.
 */
final class OpenClipWeights {
    static final String PREFIX = "visual.";

    private OpenClipWeights() {}

    static boolean isOpenClip(WeightFiles w) {
        return w.contains(PREFIX + "conv1.weight");
    }

    static String block(int i) {
        return PREFIX + "transformer.resblocks." + i + ".";
    }

    /** The OpenCLIP name of an HF tensor, or null for q/k/v (which come from the fused in_proj). */
    static String name(String hf) {
        String v = VisionTransformer.PREFIX;
        if (hf.equals(VisionTransformer.PATCH)) {
            return PREFIX + "conv1.weight";
        } else if (hf.equals(VisionTransformer.CLS)) {
            return PREFIX + "class_embedding";
        } else if (hf.equals(VisionTransformer.POS)) {
            return PREFIX + "positional_embedding";
        } else if (hf.startsWith(VisionTransformer.PRE_LN)) {
            return PREFIX + "ln_pre." + hf.substring(VisionTransformer.PRE_LN.length());
        } else if (hf.startsWith(VisionTransformer.POST_LN)) {
            return PREFIX + "ln_post." + hf.substring(VisionTransformer.POST_LN.length());
        }
        String rest = hf.substring((v + "encoder.layers.").length()); // "N.part.weight"
        int dot = rest.indexOf('.');
        String part = rest.substring(dot + 1);
        String out = block(Integer.parseInt(rest.substring(0, dot)));
        if (part.startsWith("self_attn.q_proj") || part.startsWith("self_attn.k_proj")
                || part.startsWith("self_attn.v_proj")) {
            return null;
        }
        return out + part.replace("layer_norm1", "ln_1").replace("layer_norm2", "ln_2")
                .replace("self_attn.out_proj", "attn.out_proj").replace("mlp.fc1", "mlp.c_fc")
                .replace("mlp.fc2", "mlp.c_proj");
    }

    static void load(WeightFiles w, Path dir, VisionConfig c, ParamStore p) {
        long d = c.width();
        for (Map.Entry<String, Shape> e : VisionTransformer.expectedShapes(c).entrySet()) {
            String oc = name(e.getKey());
            if (oc != null) {
                p.put(e.getKey(), w.load(p.manager(), oc, e.getValue()));
            }
        }
        for (int i = 0; i < c.layers(); i++) {
            String b = block(i) + "attn.";
            String hf = VisionTransformer.layer(i) + "self_attn.";
            NDArray fusedWeight = w.load(p.manager(), b + "in_proj_weight", new Shape(3 * d, d));
            NDArray fusedBias = w.load(p.manager(), b + "in_proj_bias", new Shape(3 * d));
            NDList weights = fusedWeight.split(3, 0); // 3 × (D, D): q, k, v
            NDList biases = fusedBias.split(3, 0); // 3 × (D)
            String[] proj = {"q_proj", "k_proj", "v_proj"};
            for (int j = 0; j < 3; j++) {
                p.put(hf + proj[j] + ".weight", weights.get(j).duplicate()); // own storage, not a view
                p.put(hf + proj[j] + ".bias", biases.get(j).duplicate());
            }
            weights.close();
            biases.close();
            fusedWeight.close();
            fusedBias.close();
        }
        List<String> extra = new ArrayList<>();
        for (String n : w.unused()) {
            if (n.startsWith(PREFIX) && !n.equals(PREFIX + "proj")) {
                extra.add(n);
            }
        }
        if (!extra.isEmpty()) {
            throw new Mm1Exception(dir + ": unexpected OpenCLIP vision tensors for this config, e.g. '" + extra.get(0)
                    + "' (" + extra.size() + " in all)");
        }
    }
}
