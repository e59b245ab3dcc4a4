package io.mm1j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.bench.EvalBench;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs {@code mm1 bench eval}'s workload once at full size (5,000 × 5) and logs the figure; no timing assertion. */
class EvalBenchTest {
    private static final Logger LOG = LoggerFactory.getLogger(EvalBenchTest.class);

    @Test
    void ciderOnFiveThousandImagesRunsAndIsDeterministic() {
        ObjectNode a = EvalBench.run(5000, 5, 1234);
        LOG.info("bench eval: {}", a);
        assertEquals(5000, a.get("images").asInt());
        double cider = a.get("cider").asDouble();
        assertTrue(cider > 0 && cider < 10, "CIDEr-D of random grammar captions: " + cider);
        assertEquals(cider, EvalBench.run(5000, 5, 1234).get("cider").asDouble(), 0.0);
    }
}
