package io.mm1j.encoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mm1j.Mm1Exception;
import org.junit.jupiter.api.Test;

/** Zero-shot retrieval recall at k, both directions, on a hand-made similarity matrix. */
class RetrievalTest {
    /**
     * 3 images × 5 texts; texts 0, 1 belong to image 0, text 2 to image 1, texts 3, 4 to image 2.
     *
     * <pre>
     *            t0    t1    t2    t3    t4
     *   image 0  0.9   0.1   0.5   0.2   0.0    own best t0 ranks 1st          → i2t hit@1
     *   image 1  0.3   0.8   0.4   0.1   0.2    own t2 (0.4) behind t1 (0.8)   → rank 2: miss@1, hit@5
     *   image 2  0.1   0.2   0.6   0.6   0.3    own t3 ties t2 (other image)   → tie counts against: rank 2
     * </pre>
     * Text→image (columns): t0 → image 0 best (0.9): hit@1; t1 → its image 0 (0.1) behind images 1 (0.8) and 2
     * (0.2): 3rd; t2 → image 1 (0.4) behind image 2 (0.6) and image 0 (0.5): 3rd; t3 → image 2 (0.6) best: hit;
     * t4 → image 2 (0.3) best: hit. So t2i R@1 = 3/5, R@2 = 3/5, R@5 = 5/5; i2t R@1 = 1/3, R@2 = R@5 = 3/3.
     */
    static final float[] SIM = {
        0.9f, 0.1f, 0.5f, 0.2f, 0.0f,
        0.3f, 0.8f, 0.4f, 0.1f, 0.2f,
        0.1f, 0.2f, 0.6f, 0.6f, 0.3f};
    static final int[] TEXT_IMAGE = {0, 0, 1, 2, 2};

    @Test
    void recallAtOneAndFiveBothWays() {
        Retrieval.Recall r = Retrieval.recall(SIM, 3, TEXT_IMAGE, 1, 5);
        assertArrayEquals(new double[] {1 / 3.0, 1.0}, r.imageToText(), 1e-12);
        assertArrayEquals(new double[] {3 / 5.0, 1.0}, r.textToImage(), 1e-12);
    }

    @Test
    void recallAtTwoCountsTheSecondPlace() {
        Retrieval.Recall r = Retrieval.recall(SIM, 3, TEXT_IMAGE, 2);
        assertArrayEquals(new double[] {1.0}, r.imageToText(), 1e-12); // image 1 and image 2 both rank 2nd
        assertArrayEquals(new double[] {3 / 5.0}, r.textToImage(), 1e-12); // t1 and t2 rank 3rd
    }

    @Test
    void chanceLevels() {
        Retrieval.Recall r = Retrieval.recall(SIM, 3, TEXT_IMAGE, 1, 2);
        // text→image: k of 3 images; image→text: 1 − C(5−c, k)/C(5, k) with c = 2, 1, 2 own captions
        assertArrayEquals(new double[] {1 / 3.0, 2 / 3.0}, r.textToImageChance(), 1e-12);
        double at1 = (2 / 5.0 + 1 / 5.0 + 2 / 5.0) / 3;
        double at2 = ((1 - 3.0 / 10) + (1 - 6.0 / 10) + (1 - 3.0 / 10)) / 3;
        assertArrayEquals(new double[] {at1, at2}, r.imageToTextChance(), 1e-12);
    }

    @Test
    void refusesMismatchedShapes() {
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> Retrieval.recall(SIM, 4, TEXT_IMAGE, 1));
        assertEquals("retrieval: 15 similarities for 4 images × 5 texts", e.getMessage());
        Mm1Exception none = assertThrows(Mm1Exception.class, () -> Retrieval.recall(new float[3], 3, new int[] {0},
                1));
        assertEquals("retrieval: image 1 has no caption among the texts", none.getMessage());
    }
}
