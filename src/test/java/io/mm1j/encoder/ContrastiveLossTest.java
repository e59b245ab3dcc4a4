package io.mm1j.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.TestSupport;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/**
 * CLIP's symmetric InfoNCE against torch 1.13 ({@code make_clip_reference.py}: {@code F.normalize}, {@code
 * cross_entropy} both ways, halved) on hand-made embeddings: the loss, the scaled logits and the gradients of the
 * learned temperature and of the image embeddings.
 */
class ContrastiveLossTest {
    static JsonNode reference() throws Exception {
        try (InputStream in = ContrastiveLossTest.class.getResourceAsStream("/reference/clip_reference.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    static double[] flat(JsonNode rows) {
        return java.util.stream.StreamSupport.stream(rows.spliterator(), false)
                .flatMapToDouble(r -> r.isArray() ? java.util.Arrays.stream(flat(r)) : java.util.stream.DoubleStream.of(
                        r.asDouble())).toArray();
    }

    @Test
    void lossLogitsAndGradientsMatchTorch() throws Exception {
        JsonNode ref = reference();
        try (NDManager m = TestSupport.root().newSubManager()) {
            NDArray image = m.create(flat(ref.get("image")), new Shape(3, 4));
            NDArray text = m.create(flat(ref.get("text")), new Shape(3, 4));
            NDArray logScale = m.create(ref.get("logScale").asDouble());
            image.setRequiresGradient(true);
            logScale.setRequiresGradient(true);
            double loss;
            double[] logits;
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                ContrastiveLoss.Output out = ContrastiveLoss.apply(image, text, logScale);
                gc.backward(out.loss());
                loss = out.loss().getDouble();
                logits = out.logits().toDoubleArray();
            }
            assertEquals(ref.get("loss").asDouble(), loss, 1e-12);
            double[] want = flat(ref.get("logits"));
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], logits[i], 1e-12, "logit " + i);
            }
            assertEquals(ref.get("gradLogScale").asDouble(), logScale.getGradient().getDouble(), 1e-12);
            double[] gi = image.getGradient().toDoubleArray();
            double[] wantGi = flat(ref.get("gradImage"));
            for (int i = 0; i < wantGi.length; i++) {
                assertEquals(wantGi[i], gi[i], 1e-12, "d loss / d image " + i);
            }
        }
    }

    @Test
    void perfectlyMatchedPairsAtCLIPsMaximumScaleGiveAlmostNoLoss() {
        try (NDManager m = TestSupport.root().newSubManager()) {
            NDArray eye = m.eye(4).toType(DataType.FLOAT64, false); // orthogonal pairs, each image = its text
            NDArray scale = m.create(ContrastiveLoss.MAX_LOG_SCALE);
            double loss = ContrastiveLoss.apply(eye, eye, scale).loss().getDouble();
            // each row: logit 100 on the diagonal, 0 elsewhere → -log(e^100 / (e^100 + 3 e^0))
            assertEquals(Math.log1p(3 * Math.exp(-100)), loss, 1e-15);
            NDArray uniform = m.ones(new Shape(4, 4), DataType.FLOAT64); // every image like every text
            assertEquals(Math.log(4), ContrastiveLoss.apply(uniform, uniform, scale).loss().getDouble(), 1e-12,
                    "no information: chance, log N");
        }
    }
}
