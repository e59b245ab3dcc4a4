package io.mm1j.bench;

import ai.djl.engine.Engine;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.Presets;

/** Common fields of every benchmark report (so figures can be compared across machines and runs). */
public final class Bench {
    private Bench() {}

    public static ObjectNode report(String name) {
        ObjectNode o = Presets.JSON.createObjectNode();
        o.put("benchmark", name);
        Engine e = Engine.getEngine("PyTorch");
        o.put("engine", e.getEngineName() + " " + e.getVersion());
        o.put("device", io.mm1j.tensor.Engines.defaultDevice().toString());
        o.put("threads", System.getProperty("ai.djl.pytorch.num_threads", "?"));
        o.put("cpus", Runtime.getRuntime().availableProcessors());
        o.put("java", System.getProperty("java.version"));
        return o;
    }
}
