package io.mm1j.ablate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.io.JsonFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ablate --study sft-resolution} on a tiny C-Abstractor model (MM1's connector, with Honeybee's learned
 * position embedding of the patch grid): all three SFT arms train, including the 1.5× crop, whose 6×6 patch grid
 * the connector's position embedding is interpolated to (it used to stop with "position embedding covers 16 patch
 * tokens, got 36"). Two pre-training steps, one SFT step, one evaluation item.
 */
class SftResolutionStudyTest {
    static final String TINY_C_ABSTRACTOR = AblationResumeTest.TINY.replace("{\"preset\": \"tiny-test\"}",
            "{\"preset\": \"tiny-test\", \"connector\": {\"type\": \"c-abstractor\", \"imageTokens\": 4, "
                    + "\"blocksPerStage\": 1}}");

    @Test
    void everyArmTrainsOnACAbstractorModel(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("tiny.json");
        Files.writeString(config, TINY_C_ABSTRACTOR);
        Path out = dir.resolve("abl");
        List<String> lines = new ArrayList<>();
        Ablation.run(new Ablation.Options(out, Studies.select("sft-resolution"), 1, 30, config, List.of(), null, 1, 1,
                2, false), lines::add);
        assertEquals(3, Files.readAllLines(out.resolve("results.jsonl")).size(), String.join("\n", lines));
        JsonNode crop = JsonFiles.read(out.resolve("runs/sft-crop_s0/summary.json")).path("highRes");
        assertEquals(48, crop.path("crop").asInt()); // 1.5 × the encoder's 32 px
        assertEquals(4, crop.path("imageTokensPerPicture").asInt()); // one crop, k = 4
        JsonNode model = JsonFiles.read(out.resolve("runs/sft-crop_s0/model/config.json"));
        assertEquals("c-abstractor", model.at("/connector/type").asText());
        assertEquals(48, model.at("/vision/imageSize").asInt());
        JsonNode sub = JsonFiles.read(out.resolve("runs/sft-subimages_s0/summary.json")).path("highRes");
        assertEquals(20, sub.path("imageTokensPerPicture").asInt()); // (2×2 + 1) × 4
    }
}
