package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mm1j.Mm1Exception;
import io.mm1j.train.RunConfig;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** {@code data.caption_choice}: a picture's first caption, or one of its captions per visit (exact-resume safe). */
class CaptionChoiceTest {
    private static final List<String> CAPTIONS = List.of("c0", "c1", "c2", "c3", "c4");

    private static MixtureSampler.Cursor at(long step) {
        return new MixtureSampler.Cursor(step, List.of(step), List.of(0L));
    }

    private static Sample.Caption sample() throws Exception {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB), "png", png);
        return new Sample.Caption("1", ImageRef.of("1.png", png.toByteArray()), CAPTIONS);
    }

    /** Encodes a caption as its index in {@link #CAPTIONS}, so the trained text can be read back. */
    private static SampleEncoder encoder() {
        return new SampleEncoder(t -> new long[] {1000 + CAPTIONS.indexOf(t)}, SampleEncoder.resizeToUnit(4));
    }

    @Test
    void firstCaptionByDefaultAndWithoutACursor() throws Exception {
        Sample.Caption c = sample();
        SampleEncoder plain = encoder();
        for (long step = 0; step < 50; step++) {
            assertEquals(0, plain.captionIndex(c, at(step)));
        }
        assertEquals(0, encoder().withCaptionPerVisit(true).captionIndex(c, null));
        assertArrayEquals(new long[] {1000}, plain.prepare(c, at(7), at(8)).pieces().get(2).tokens());
    }

    @Test
    void perVisitUsesEveryCaptionEvenlyAsAPureFunctionOfTheStep() throws Exception {
        Sample.Caption c = sample();
        SampleEncoder e = encoder().withCaptionPerVisit(true);
        int[] counts = new int[CAPTIONS.size()];
        for (long step = 0; step < 1000; step++) {
            int i = e.captionIndex(c, at(step));
            counts[i]++;
            assertEquals(i, encoder().withCaptionPerVisit(true).captionIndex(c, at(step)), "step " + step);
        }
        for (int n : counts) {
            assertTrue(n > 150 && n < 250, java.util.Arrays.toString(counts)); // 200 ± 3.5σ
        }
        for (long step = 0; step < 20; step++) { // the trained text is the drawn caption
            assertArrayEquals(new long[] {1000 + e.captionIndex(c, at(step))},
                    e.prepare(c, at(step), at(step + 1)).pieces().get(2).tokens());
        }
    }

    @Test
    void captionChoiceIsValidated() {
        assertEquals("first", RunConfig.resolve(null, Map.of(), List.of()).text("data.caption_choice"));
        assertEquals("per_visit", RunConfig.resolve(null, Map.of(), List.of("data.caption_choice=per_visit"))
                .text("data.caption_choice"));
        Mm1Exception bad = assertThrows(Mm1Exception.class, () -> RunConfig.resolve(null, Map.of(),
                List.of("data.caption_choice=random")));
        assertEquals("data.caption_choice must be \"first\" (a picture's first caption, as a web pair has one) or "
                + "\"per_visit\" (one of its captions per visit), got \"random\"", bad.getMessage());
    }
}
