package io.mm1j.connector;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.mm1j.ManagedNdTest;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.ConnectorType;
import io.mm1j.config.ParamCount;
import io.mm1j.config.Presets;
import io.mm1j.config.VisionConfig;
import io.mm1j.nn.GradCheck;
import io.mm1j.nn.ParamStore;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tensor.WeightFiles;
import io.mm1j.nn.Resample;
import io.mm1j.nn.ShapeInit;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shapes, parameter counts and float64 finite-difference gradients of the four connectors. */
class ConnectorTest extends ManagedNdTest {
    /** A 16 px encoder with patch 4: 4×4 = 16 patch tokens of width 8. */
    private static final VisionConfig VISION = VisionConfig.builder().imageSize(16).patchSize(4).width(8)
            .layers(1).heads(2).mlpDim(16).build();
    private static final int LLM = 12;


    private static ConnectorConfig[] configs() {
        return new ConnectorConfig[] {new ConnectorConfig("avgpool", 4, 0), new ConnectorConfig("attnpool", 3, 0),
                new ConnectorConfig("c-abstractor", 4, 2), new ConnectorConfig("mlp", 16, 0)};
    }

    /** float64 weights with std 0.3 (at init scale 0.02 the gradients sit near the finite-difference floor). */
    private ParamStore wideParams(ConnectorConfig c) {
        ParamStore p = new ParamStore(m, DataType.FLOAT64);
        ShapeInit.init(p, ConnectorParams.shapes(c, VISION, LLM), 0.3);
        return p;
    }

    @Test
    void everyConnectorMapsPatchTokensToKTokensOfTheLlmWidth() {
        for (ConnectorConfig c : configs()) {
            VlConnector conn = Connectors.init(c, VISION, LLM, new ParamStore(m, DataType.FLOAT32));
            NDArray out = conn.forward(m.randomNormal(new Shape(3, 16, 8)));
            assertEquals(new Shape(3, c.imageTokens(), LLM), out.getShape(), c.type().json());
            assertEquals(c.imageTokens(), conn.imageTokens());
        }
    }

    @Test
    void parameterCountFromConfigsEqualsTheMaterialisedConnector() {
        for (ConnectorConfig c : configs()) {
            ParamStore p = new ParamStore(m, DataType.FLOAT32);
            Connectors.init(c, VISION, LLM, p);
            assertEquals(ParamCount.connector(c, VISION, LLM), p.numel(), c.type().json());
            assertEquals(ShapeInit.numel(ConnectorParams.shapes(c, VISION, LLM)), p.numel(), c.type().json());
            p.close();
        }
        // without allocating: MM1-3B's C-Abstractor (ViT-H width 1280, 3 blocks per stage, LLM width 2560)
        var mm1 = Presets.load("mm1-3b");
        long plain = 6 * (2L * 1280 * 1280 + 9 * 1280 + 3 * 2 * 1280) + (1280L * 2560 + 2560) + (2560L * 2560 + 2560);
        assertEquals(plain, ParamCount.connector(mm1.connector().withHoneybeeExtras(false), mm1.vision(),
                mm1.llm().hiddenSize()));
        // Honeybee's extras: per bottleneck an SE of 1280 → 320 → 1280 (1×1 convs with bias); a 27×27 × 1280 table
        long honeybee = plain + 6 * (2L * 1280 * 320 + 320 + 1280) + 729L * 1280;
        assertEquals(honeybee, ParamCount.connector(mm1.connector(), mm1.vision(), mm1.llm().hiddenSize()));
    }

    @Test
    void cAbstractorWithAndWithoutHoneybeeExtrasHasTheirTensorsCountsAndOutputShape() {
        ConnectorConfig on = new ConnectorConfig("c-abstractor", 4, 2);
        ConnectorConfig off = on.withHoneybeeExtras(false);
        var sOn = ConnectorParams.shapes(on, VISION, LLM);
        var sOff = ConnectorParams.shapes(off, VISION, LLM);
        // width 8: rd = round(0.25·8) = 2; 16 patch tokens
        assertEquals(new Shape(1, 16, 8), sOn.get(CAbstractor.POS_EMB));
        assertEquals(new Shape(2, 8, 1, 1), sOn.get("connector.stage2.1.se.fc1.weight"));
        assertEquals(new Shape(2), sOn.get("connector.stage2.1.se.fc1.bias"));
        assertEquals(new Shape(8, 2, 1, 1), sOn.get("connector.stage1.0.se.fc2.weight"));
        assertEquals(new Shape(8), sOn.get("connector.stage1.0.se.fc2.bias"));
        assertEquals(sOff.size() + 1 + 4 * 4, sOn.size());
        assertTrue(sOff.keySet().stream().noneMatch(k -> k.contains(".se.") || k.endsWith("pos_emb")));
        long extra = 4 * (2 * 8 * 2 + 2 + 8) + 16 * 8;
        assertEquals(ParamCount.connector(off, VISION, LLM) + extra, ParamCount.connector(on, VISION, LLM));
        for (ConnectorConfig c : new ConnectorConfig[] {on, off}) {
            ParamStore p = new ParamStore(m, DataType.FLOAT32);
            VlConnector conn = Connectors.init(c, VISION, LLM, p);
            assertEquals(ParamCount.connector(c, VISION, LLM), p.numel());
            assertEquals(new Shape(2, 4, LLM), conn.forward(m.randomNormal(new Shape(2, 16, 8))).getShape());
            p.close();
        }
    }

    @Test
    void aCAbstractorSavedWithoutTheExtrasIsRefusedUnlessItsConfigSaysSo(@TempDir Path dir) {
        ConnectorConfig off = new ConnectorConfig("c-abstractor", 4, 1).withHoneybeeExtras(false);
        ParamStore src = new ParamStore(m, DataType.FLOAT32);
        Connectors.init(off, VISION, LLM, src);
        SafeTensorsWriter w = new SafeTensorsWriter();
        src.all().forEach((name, t) -> w.add(SafeTensorsWriter.Tensor.f32(name, t.getShape().getShape(),
                t.toFloatArray())));
        w.write(dir.resolve("model.safetensors"));
        try (WeightFiles files = WeightFiles.open(dir); ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> Connectors.load(files,
                    new ConnectorConfig("c-abstractor", 4, 1), VISION, LLM, p));
            assertEquals("the C-Abstractor weights have no squeeze-and-excitation / position embedding tensors "
                    + "('connector.pos_emb', 'connector.stage1.0.se.fc1.weight'): a model saved before they became "
                    + "the default; add \"squeezeExcitation\": false, \"positionEmbedding\": false to the "
                    + "\"connector\" of its config.json to load it", e.getMessage());
            assertEquals(new Shape(2, 4, LLM), Connectors.load(files, off, VISION, LLM, p)
                    .forward(m.randomNormal(new Shape(2, 16, 8))).getShape());
        }
    }

    @Test
    void avgPoolWithIdentityProjectionAveragesEachQuadrantOfThePatchGrid() {
        VisionConfig v = VisionConfig.builder().imageSize(16).patchSize(4).width(2)
                .layers(1).heads(1).mlpDim(4).build();
        ConnectorConfig c = new ConnectorConfig("avgpool", 4, 0);
        ParamStore p = new ParamStore(m, DataType.FLOAT64);
        p.put(AvgPoolConnector.PROJ + "weight", m.create(new double[] {1, 0, 0, 1}, new Shape(2, 2)));
        p.put(AvgPoolConnector.PROJ + "bias", m.zeros(new Shape(2), DataType.FLOAT64));
        double[] x = new double[16 * 2];
        for (int i = 0; i < x.length; i++) {
            x[i] = i * i % 7 - 3;
        }
        double[] out = Connectors.create(c, v, 2, p).forward(m.create(x, new Shape(1, 16, 2))).toDoubleArray();
        for (int qy = 0; qy < 2; qy++) {
            for (int qx = 0; qx < 2; qx++) {
                for (int ch = 0; ch < 2; ch++) {
                    double sum = 0;
                    for (int y = 2 * qy; y < 2 * qy + 2; y++) {
                        for (int xx = 2 * qx; xx < 2 * qx + 2; xx++) {
                            sum += x[(y * 4 + xx) * 2 + ch];
                        }
                    }
                    assertEquals(sum / 4, out[(qy * 2 + qx) * 2 + ch], 1e-12);
                }
            }
        }
    }

    @Test
    void poolingMatricesEqualTorchAdaptiveAvgPoolIncludingUnevenWindows() {
        NDArray x = m.randomNormal(0, 1, new Shape(2, 3, 7, 7), DataType.FLOAT64);
        for (int s : new int[] {1, 2, 3, 5, 7}) {
            NDArray w = Resample.matrix(m, Resample.adaptiveAverage(7, s), s, 7, DataType.FLOAT64);
            NDArray ours = Resample.apply(x, w, w);
            NDArray torch = JniUtils.adaptiveAvgPool((PtNDArray) x, new Shape(s, s));
            assertArrayEquals(torch.toDoubleArray(), ours.toDoubleArray(), 1e-12, "pool to " + s);
        }
    }

    /**
     * One tensor of every kind (finite differences cost two forwards per element; all 40 C-Abstractor tensors would
     * take half a minute). Not k_proj.bias: softmax ignores a per-row shift, so its gradient is exactly zero.
     */
    private static final java.util.List<String> CHECKED = java.util.List.of("connector.proj.weight", "connector.proj.bias", "query",
            "norm.weight", "q_proj.weight", "v_proj.bias", "stage1.0.conv1.weight", "stage1.0.conv2.weight",
            "stage1.1.norm2.bias", "stage2.0.norm3.weight", "stage2.1.conv3.weight", "readout.fc1.weight", "linear_1.weight",
            "connector.pos_emb", "stage1.0.se.fc1.weight", "stage2.1.se.fc2.bias",
            "linear_2.bias");

    @Test
    void gradientsMatchFiniteDifferences() {
        for (ConnectorConfig c : configs()) {
            ParamStore p = wideParams(c);
            VlConnector conn = Connectors.create(c, VISION, LLM, p);
            NDArray x = m.randomNormal(0, 1, new Shape(2, 16, 8), DataType.FLOAT64);
            NDArray r = m.randomNormal(0, 1, new Shape(2, c.imageTokens(), LLM), DataType.FLOAT64);
            Supplier<NDArray> loss = () -> conn.forward(x).mul(r).sum();
            check(c.type() + " dx", x, loss);
            for (String name : p.all().keySet()) {
                if (CHECKED.stream().anyMatch(name::endsWith)) {
                    check(c.type() + " d" + name, p.get(name), loss);
                }
            }
        }
    }

    private static void check(String what, NDArray p, Supplier<NDArray> loss) {
        double err = GradCheck.maxRelativeError(p, loss, 6, 7);
        assertTrue(err < 1e-6, what + ": max relative error " + err);
    }

    @Test
    void loadsConnectorWeightsByNameWithShapeChecks(@TempDir Path dir) {
        ConnectorConfig c = new ConnectorConfig("c-abstractor", 4, 1);
        ParamStore src = new ParamStore(m, DataType.FLOAT32);
        VlConnector a = Connectors.init(c, VISION, LLM, src);
        SafeTensorsWriter w = new SafeTensorsWriter();
        src.all().forEach((name, t) -> w.add(SafeTensorsWriter.Tensor.f32(name, t.getShape().getShape(),
                t.toFloatArray())));
        w.write(dir.resolve("model.safetensors"));
        NDArray x = m.randomNormal(new Shape(2, 16, 8));
        try (WeightFiles files = WeightFiles.open(dir); ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            VlConnector b = Connectors.load(files, c, VISION, LLM, p);
            assertArrayEquals(a.forward(x).toFloatArray(), b.forward(x).toFloatArray(), 0f);
        }
        try (WeightFiles files = WeightFiles.open(dir); ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            Mm1Exception e = assertThrows(Mm1Exception.class, () -> Connectors.load(files, c, VISION, 16, p));
            assertEquals(dir.resolve("model.safetensors") + ": tensor 'connector.readout.fc1.weight' has shape (12, 8) "
                    + "but the config needs (16, 8)", e.getMessage());
        }
    }

    @Test
    void nonSquarePatchGridAndWrongWidthAreClearErrors() {
        VlConnector avg = Connectors.init(new ConnectorConfig("avgpool", 4, 0), VISION, LLM,
                new ParamStore(m, DataType.FLOAT32));
        Mm1Exception grid = assertThrows(Mm1Exception.class, () -> avg.forward(m.zeros(new Shape(1, 12, 8))));
        assertEquals("avgpool connector: 12 patch tokens do not form a square grid", grid.getMessage());
        Mm1Exception width = assertThrows(Mm1Exception.class, () -> avg.forward(m.zeros(new Shape(1, 16, 5))));
        assertEquals("avgpool connector: expected patch tokens (N, P, 8), got (1, 16, 5)", width.getMessage());
        Mm1Exception mlp = assertThrows(Mm1Exception.class, () -> Connectors.init(new ConnectorConfig("mlp", 9, 0),
                VISION, LLM, new ParamStore(m, DataType.FLOAT32)));
        assertEquals("connector.imageTokens (9) must equal the encoder's patch count (16) for the mlp connector",
                mlp.getMessage());
    }

    @Test
    void configJsonKeepsTheTypeNamesAndRefusesUnknownOnes() throws Exception {
        for (ConnectorConfig c : configs()) {
            String json = Presets.JSON.writeValueAsString(c);
            assertTrue(json.contains("\"type\" : \"" + c.type().json() + "\""), json);
            assertEquals(c, Presets.JSON.readValue(json, ConnectorConfig.class));
        }
        assertEquals(ConnectorType.C_ABSTRACTOR, Presets.load("mm1-3b").connector().type());
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> new ConnectorConfig("avg-pool", 4, 0));
        assertEquals("connector.type must be one of [avgpool, attnpool, c-abstractor, mlp], got avg-pool",
                e.getMessage());
        Exception json = assertThrows(Exception.class, () -> Presets.JSON.readValue(
                "{\"type\": \"avg-pool\", \"imageTokens\": 4, \"blocksPerStage\": 0}", ConnectorConfig.class));
        assertTrue(json.getMessage().contains("connector.type must be one of"), json.getMessage());
    }
}
