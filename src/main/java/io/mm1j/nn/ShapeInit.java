package io.mm1j.nn;

import ai.djl.ndarray.types.Shape;
import java.util.Map;

/**
 * Random initialisation from a module's name → shape map, so that the same map drives initialisation, weight
 * loading and parameter counting (one source of truth for what a module owns).
 *
 * <p>Rules (CLIP/GPT-2 practice): biases zero; LayerNorm gains ({@code …norm….weight}, HF's {@code pre_layrnorm}
 * included) one; everything else N(0, std).
 */
public final class ShapeInit {
    private ShapeInit() {}

    public static void init(ParamStore p, Map<String, Shape> shapes, double std) {
        for (Map.Entry<String, Shape> e : shapes.entrySet()) {
            String name = e.getKey();
            if (name.endsWith(".bias")) {
                p.zeros(name, e.getValue());
            } else if (isNormGain(name)) {
                p.ones(name, e.getValue());
            } else {
                p.normal(name, e.getValue(), std);
            }
        }
    }

    static boolean isNormGain(String name) {
        if (!name.endsWith(".weight")) {
            return false;
        }
        String last = name.substring(0, name.length() - ".weight".length());
        last = last.substring(last.lastIndexOf('.') + 1);
        return last.contains("norm") || last.contains("layrnorm");
    }

    /** Number of elements in every tensor of the map (parameter counts without allocating). */
    public static long numel(Map<String, Shape> shapes) {
        long n = 0;
        for (Shape s : shapes.values()) {
            n += s.size();
        }
        return n;
    }
}
