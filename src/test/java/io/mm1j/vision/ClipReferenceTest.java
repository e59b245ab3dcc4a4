package io.mm1j.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.mm1j.ManagedNdTest;
import io.mm1j.config.ConnectorConfig;
import io.mm1j.config.ConnectorType;
import io.mm1j.config.VisionConfig;
import io.mm1j.connector.Connectors;
import io.mm1j.connector.VlConnector;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.WeightFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ViT and the four connectors against outputs computed independently in plain PyTorch from the models'
 * definitions (HF CLIPVisionModel; adaptive_avg_pool2d; multi_head_attention_forward; Honeybee's bottleneck with
 * torch's grouped conv2d; LLaVA's MLP): {@code src/test/resources/reference/make_vit_reference.py} wrote the
 * weights (HF names), the inputs and the expected outputs into one safetensors file, loaded here by name.
 */
class ClipReferenceTest extends ManagedNdTest {
    /** make_vit_reference.py's configs. */
    private static final VisionConfig QUICK_GELU = VisionConfig.builder().imageSize(16).patchSize(4).width(16)
            .layers(2).heads(2).mlpDim(24).activation("quick_gelu").build();
    private static final int LLM = 12;
    /**
     * Stored float32, computed in float64: what is left is float32 rounding through a few layers (measured ≤ 2.7e-6
     * on values up to 9).
     */
    private static final float TOL = 1e-5f;

    @TempDir
    Path dir;

    private SafeTensors ref;

    @BeforeEach
    void copyReference() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/reference/vit_connectors_reference.safetensors")) {
            Files.copy(in, dir.resolve(WeightFiles.SINGLE));
        }
        ref = SafeTensors.open(dir.resolve(WeightFiles.SINGLE));
    }

    private NDArray input(String name) {
        return ref.load(m, name, ref.entry(name).djlShape());
    }

    private void assertMatches(String expected, NDArray actual) {
        assertArrayEquals(ref.entry(expected).shape(), actual.getShape().getShape(), expected + " shape");
        float[] want = ref.floats(expected);
        float[] got = actual.toFloatArray();
        float worst = 0;
        for (int i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs(want[i] - got[i]));
        }
        assertTrue(worst <= TOL, expected + ": max |Δ| = " + worst);
    }

    private VisionTransformer load(VisionConfig c) {
        try (WeightFiles w = WeightFiles.open(dir)) {
            return VisionTransformer.load(w, dir, c, new ParamStore(m, DataType.FLOAT32));
        }
    }

    @Test
    void quickGeluVitGivesHfPatchTokensAndPooledCls() {
        VisionTransformer.Output o = load(QUICK_GELU).forward(input("input.pixels"));
        assertMatches("expected.vit.last_patch_tokens", o.patchTokens());
        assertMatches("expected.vit.pooled", o.cls());
    }

    @Test
    void featureLayerMinusTwoIsHfHiddenStatesMinusTwo() {
        VisionConfig c = VisionConfig.builder().imageSize(16).patchSize(4).width(16).layers(2).heads(2).mlpDim(24)
                .activation("quick_gelu").featureLayer(-2).build();
        assertMatches("expected.vit.second_last_patch_tokens", load(c).forward(input("input.pixels")).patchTokens());
    }

    @Test
    void exactGeluVit() {
        VisionConfig c = VisionConfig.builder().imageSize(16).patchSize(4).width(16).layers(2).heads(2).mlpDim(24)
                .build();
        assertMatches("expected.vit_gelu.last_patch_tokens", load(c).forward(input("input.pixels")).patchTokens());
    }

    @Test
    void doubledResolutionInterpolatesPositionsAsHf() {
        VisionTransformer.Output o = load(QUICK_GELU).forward(input("input.pixels_double"));
        assertMatches("expected.vit_double.last_patch_tokens", o.patchTokens());
        assertMatches("expected.vit_double.pooled", o.cls());
    }

    @Test
    void everyConnectorMatchesItsTorchDefinition() {
        ConnectorConfig[] configs = {new ConnectorConfig(ConnectorType.AVG_POOL, 4, 0),
            new ConnectorConfig(ConnectorType.ATTENTION_POOL, 3, 0),
            new ConnectorConfig(ConnectorType.C_ABSTRACTOR, 4, 2).withHoneybeeExtras(false),
            new ConnectorConfig(ConnectorType.MLP, 16, 0)};
        NDArray x = input("input.patch_tokens");
        for (ConnectorConfig c : configs) {
            try (WeightFiles w = WeightFiles.open(dir); ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
                VlConnector conn = Connectors.load(w, c, QUICK_GELU, LLM, p);
                assertMatches("expected.connector." + c.type().json(), conn.forward(x));
            }
        }
        // Honeybee's C-Abstractor as MM1 used it: position embedding + squeeze-excitation in every bottleneck
        try (WeightFiles w = WeightFiles.open(dir); ParamStore p = new ParamStore(m, DataType.FLOAT32)) {
            VlConnector conn = Connectors.load(w, new ConnectorConfig(ConnectorType.C_ABSTRACTOR, 4, 2), QUICK_GELU,
                    LLM, p);
            assertMatches("expected.connector.c-abstractor-honeybee", conn.forward(x));
        }
    }

    @org.junit.jupiter.api.AfterEach
    void close() {
        ref.close();
    }
}
