package io.mm1j.mllm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mm1j.TestSupport;
import io.mm1j.nn.GradCheck;
import io.mm1j.Mm1Exception;
import org.junit.jupiter.api.Test;

class ImageSplicerTest {
    private static final int IMG = 9;

    @Test
    void slotsAreFoundInReadingOrder() {
        long[] ids = {1, IMG, IMG, 5, IMG, IMG, /* row 2 */ IMG, IMG, 4, 4, 4, 4};
        assertArrayEquals(new long[] {1, 2, 4, 5, 6, 7}, ImageSplicer.slots(ids, 2, 6, IMG, 3, 2));
    }

    @Test
    void wrongNumberOfImagesIsAClearError() {
        long[] ids = {1, IMG, IMG, 5};
        assertEquals("image slots: the sequence has 2 <image> placeholder positions but 2 image(s) × 2 tokens need 4",
                assertThrows(Mm1Exception.class, () -> ImageSplicer.slots(ids, 1, 4, IMG, 2, 2)).getMessage());
        long[] broken = {IMG, 3, IMG, IMG, IMG, 3};
        assertEquals("image slots: row 0 has a run of 1 <image> positions ending at 0; each image needs exactly 2 "
                + "consecutive slots",
                assertThrows(Mm1Exception.class, () -> ImageSplicer.slots(broken, 1, 6, IMG, 2, 2)).getMessage());
    }

    @Test
    void moreImagesPerRowThanTheModelAllowsIsRefused() {
        long[] ids = {IMG, IMG, IMG, IMG, IMG, IMG, 5, 5};
        assertEquals("image slots: row 0 holds more than 2 images (the model's maxImagesPerSequence)",
                assertThrows(Mm1Exception.class, () -> ImageSplicer.slots(ids, 1, 8, IMG, 3, 2, 2)).getMessage());
        assertEquals(6, ImageSplicer.slots(ids, 1, 8, IMG, 3, 2, 3).length);
    }

    @Test
    void spliceReplacesExactlyTheSlotsAndIsDifferentiable() {
        try (NDManager m = TestSupport.root().newSubManager()) {
            NDArray text = m.arange(0, 2 * 4 * 3, 1, DataType.FLOAT64).reshape(2, 4, 3);
            NDArray img = m.arange(100, 100 + 2 * 2 * 3, 1, DataType.FLOAT64).reshape(2, 2, 3);
            long[] slots = {1, 2, 5, 6}; // row 0 positions 1–2, row 1 positions 1–2
            double[] out = ImageSplicer.splice(text, img, slots).toDoubleArray();
            assertArrayEquals(new double[] {0, 1, 2, 100, 101, 102, 103, 104, 105, 9, 10, 11,
                12, 13, 14, 106, 107, 108, 109, 110, 111, 21, 22, 23}, out);
            NDArray r = m.randomNormal(0, 1, new Shape(2, 4, 3), DataType.FLOAT64);
            double errImg = GradCheck.maxRelativeError(img, () -> ImageSplicer.splice(text, img, slots).mul(r).sum(),
                    6, 1);
            double errText = GradCheck.maxRelativeError(text, () -> ImageSplicer.splice(text, img, slots).mul(r).sum(),
                    6, 2);
            assertEquals(0, errImg, 1e-6);
            assertEquals(0, errText, 1e-6);
        }
    }
}
