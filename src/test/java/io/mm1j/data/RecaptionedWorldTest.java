package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.Mm1Exception;
import io.mm1j.train.RunConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MM1's VeCap analogue: the re-captioned train split, plain held-out splits, and the data-mix config keys. */
class RecaptionedWorldTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void recaptionNamesEveryShapeWithSizeColourAndPlace() {
        Scene s = new SyntheticWorld(3).scene(1);
        String r = SyntheticWorld.recaption(s);
        for (Scene.Item it : s.items()) {
            assertTrue(r.contains(it.describe() + " " + it.place()), r);
        }
        assertTrue(r.startsWith("a " + s.backgroundName() + " picture of "), r);
        assertTrue(r.contains("in all, " + SyntheticWorld.listing(s) + "."), r);
    }

    @Test
    void halfTheTrainPicturesLeadWithARecaptionAndHeldOutSplitsStayPlain(@TempDir Path dir) throws Exception {
        SynthWriter.write(dir.resolve("plain"), 60, 16, 5, false);
        SynthWriter.write(dir.resolve("recap"), 60, 16, 5, false, SynthWriter.CaptionStyle.RECAPTIONED);
        JsonNode plain = JSON.readTree(dir.resolve("plain/coco/captions_train.json").toFile());
        JsonNode recap = JSON.readTree(dir.resolve("recap/coco/captions_train.json").toFile());
        int extra = recap.path("annotations").size() - plain.path("annotations").size();
        int images = plain.path("images").size();
        assertEquals(48, images);
        assertTrue(extra > images / 4 && extra < 3 * images / 4, "re-captioned pictures: " + extra + " of " + images);
        long dense = 0;
        for (JsonNode a : recap.path("annotations")) {
            dense += a.path("caption").asText().contains(" picture of ") && a.path("caption").asText()
                    .contains("in all, ") ? 1 : 0;
        }
        assertEquals(extra, dense);
        for (String split : List.of("val", "test")) {
            assertEquals(JSON.readTree(dir.resolve("plain/coco/captions_" + split + ".json").toFile()),
                    JSON.readTree(dir.resolve("recap/coco/captions_" + split + ".json").toFile()), split);
        }
        assertEquals("recaptioned", JSON.readTree(dir.resolve("recap/manifest.json").toFile())
                .path("captionStyle").asText());
    }

    @Test
    void mixAndCaptionStyleAreValidated() {
        RunConfig ok = RunConfig.resolve(null, Map.of(), List.of("data.synthetic_mix=[0,1,0]",
                "data.synthetic_captions=recaptioned"));
        assertEquals(3, ok.node("data.synthetic_mix").size());
        Mm1Exception mix = assertThrows(Mm1Exception.class, () -> RunConfig.resolve(null, Map.of(),
                List.of("data.synthetic_mix=[0,0,0]")));
        assertEquals("data.synthetic_mix must be null (MM1's 45/45/10) or three weights >= 0 for [interleaved, "
                + "captions, text] with a positive sum, got [0,0,0]", mix.getMessage());
        Mm1Exception style = assertThrows(Mm1Exception.class, () -> RunConfig.resolve(null, Map.of(),
                List.of("data.synthetic_captions=vecap")));
        assertEquals("data.synthetic_captions must be \"plain\" or \"recaptioned\" (MM1's synthetic VeCap captions), "
                + "got \"vecap\"", style.getMessage());
    }
}
