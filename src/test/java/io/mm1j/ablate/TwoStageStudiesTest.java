package io.mm1j.ablate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.ablate.Study.Claim;
import io.mm1j.ablate.Study.Lesson;
import io.mm1j.io.JsonFiles;
import io.mm1j.io.OutputDir;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two-stage studies end to end on a tiny model, one variant of each kind: {@code encoder-objective}'s CLIP arm
 * (an {@code mm1 clip} run, then pre-training from its encoder), {@code sft-resolution}'s sub-image arm (SFT with
 * 2×2 sub-images + overview after the shared base run) and {@code sft-vs-pretraining}'s half arm (a half-length
 * pre-training run, then SFT). Two pre-training steps per run (encoder stage 2, SFT 1). Then two final stages are
 * deleted (an interrupted ablation) and the study resumed: only those retrain; the finished encoder, base and
 * half-length pre-training runs are reused untouched.
 */
class TwoStageStudiesTest {
    private static List<String> run(Path out, Path config, Study study) {
        List<String> lines = new ArrayList<>();
        Ablation.run(new Ablation.Options(out, List.of(study), 1, 30, config, List.of(), null, 1, 1, 2, false),
                lines::add);
        return lines;
    }

    private static FileTime mtime(Path f) throws Exception {
        return Files.getLastModifiedTime(f);
    }

    @Test
    void encoderAndSftStagesTrainReportAndResume(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("tiny.json");
        Files.writeString(config, AblationResumeTest.TINY);
        Study study = new Study("two-stage", "one arm of each two-stage kind",
                List.of(Studies.byName("encoder-objective").variant("enc-clip"),
                        Studies.byName("sft-resolution").variant("sft-subimages"),
                        Studies.byName("sft-vs-pretraining").variant("sft-pt-half")),
                List.of(new Lesson("MM1", "sub-images beat half the pre-training on VQA",
                        List.of(Claim.better("vqa", "sft-subimages", "sft-pt-half")))));
        Path out = dir.resolve("abl");
        List<String> first = run(out, config, study);
        String log = String.join("\n", first);
        assertTrue(first.contains("[1/3] two-stage/enc-clip seed 0: training the clip encoder (2 steps × 64 pairs), "
                + "then 2 steps …"), log);
        assertTrue(first.contains("[2/3] two-stage/sft-subimages seed 0: training 2 pre-training steps (shared), "
                + "then 1 SFT steps …"), log);
        assertTrue(first.contains("[3/3] two-stage/sft-pt-half seed 0: training 1 pre-training steps (shared), "
                + "then 1 SFT steps …"), log);
        // the plan counts every stage's run: 3 variants + the base and half-length pre-training runs SFT starts from
        JsonNode plan = JsonFiles.MAPPER.readTree(out.resolve("plan.json").toFile());
        assertEquals(5, plan.path("runs").asInt());
        assertTrue(plan.path("relativeCost").asDouble() > 2.5, plan.toString());

        List<String> rows = Files.readAllLines(out.resolve("results.jsonl"));
        assertEquals(3, rows.size());
        Map<String, JsonNode> byVariant = new LinkedHashMap<>();
        for (String r : rows) {
            JsonNode j = JsonFiles.MAPPER.readTree(r);
            byVariant.put(j.path("variant").asText(), j);
        }
        JsonNode clip = byVariant.get("enc-clip");
        assertEquals(List.of("encoder pre-training (clip)", "pre-training"), names(clip));
        assertEquals(128, clip.path("stages").get(0).path("pairs").asLong());
        assertEquals(2L * 2 * 64, clip.path("stages").get(1).path("tokens").asLong());
        assertEquals(2L * 2 * 64, clip.path("tokens").asLong()); // tokens add up the token stages only
        Path encoder = out.resolve("runs/enc-clip_s0-encoder/encoder");
        assertTrue(Files.isRegularFile(encoder.resolve("model.safetensors")));
        JsonNode runJson = JsonFiles.MAPPER.readTree(out.resolve("runs/enc-clip_s0/run.json").toFile());
        assertEquals(encoder.toString(), runJson.path("model").path("vision").path("init").asText());
        assertEquals("pretrain", evalTemplate(out, "enc-clip_s0"));

        JsonNode sub = byVariant.get("sft-subimages");
        assertEquals(List.of("pre-training (the base run, shared)", "SFT"), names(sub));
        assertEquals(out.resolve("runs/base_s0").toString(), sub.path("stages").get(0).path("runDir").asText());
        assertEquals(1, sub.path("stages").get(1).path("steps").asInt());
        JsonNode subSummary = JsonFiles.MAPPER.readTree(out.resolve("runs/sft-subimages_s0/summary.json").toFile());
        assertEquals("AdaFactor", subSummary.path("optimizer").asText());
        assertEquals(20, subSummary.path("highRes").path("imageTokensPerPicture").asInt()); // (2×2 + 1) × k = 4
        assertEquals("chat", evalTemplate(out, "sft-subimages_s0"));
        // SFT data: the world drawn at twice the encoder's 32 px
        assertTrue(Files.isRegularFile(out.resolve("shared/sft/s0-64px-40.json")));

        JsonNode half = byVariant.get("sft-pt-half");
        assertEquals(List.of("pre-training (50% of the steps)", "SFT"), names(half));
        assertEquals(1, half.path("stages").get(0).path("steps").asInt());
        assertEquals(out.resolve("runs/pretrain-50pct_s0").toString(),
                half.path("stages").get(0).path("runDir").asText());

        String report = Files.readString(out.resolve("report.md"));
        assertTrue(report.contains("| contrastive (CLIP) encoder | encoder pre-training (clip) | 2 | 128 image-text "
                + "pairs | "), report);
        assertTrue(report.contains("| ½ of the pre-training steps | SFT | 1 | 128 tokens | "), report);
        assertTrue(report.contains("on VQA accuracy over 0/4/8 shots: advantage "), report);
        assertTrue(Files.size(out.resolve("plots/two-stage.png")) > 1000);

        // interrupted: the MLLM stage of the CLIP arm and the SFT of the half arm are gone
        Path encSummary = out.resolve("runs/enc-clip_s0-encoder/summary.json");
        Path baseSummary = out.resolve("runs/base_s0/summary.json");
        Path halfSummary = out.resolve("runs/pretrain-50pct_s0/summary.json");
        Path subSft = out.resolve("runs/sft-subimages_s0/summary.json");
        FileTime enc = mtime(encSummary);
        FileTime base = mtime(baseSummary);
        FileTime halfPre = mtime(halfSummary);
        FileTime subTime = mtime(subSft);
        OutputDir.deleteTree(out.resolve("runs/enc-clip_s0"));
        OutputDir.deleteTree(out.resolve("runs/sft-pt-half_s0"));
        List<String> second = run(out, config, study);
        log = String.join("\n", second);
        assertTrue(second.stream().anyMatch(l -> l.startsWith("[1/3] two-stage/enc-clip seed 0: training")), log);
        assertTrue(second.contains("[2/3] two-stage/sft-subimages seed 0: trained before (reused)"), log);
        assertTrue(second.stream().anyMatch(l -> l.startsWith("[3/3] two-stage/sft-pt-half seed 0: training")), log);
        assertEquals(enc, mtime(encSummary), "the finished encoder stage is reused");
        assertEquals(base, mtime(baseSummary), "the shared base run is reused");
        assertEquals(halfPre, mtime(halfSummary), "the half-length pre-training run is reused");
        assertEquals(subTime, mtime(subSft));
        assertTrue(Files.isRegularFile(out.resolve("runs/enc-clip_s0/ablate-eval.json")));
        assertTrue(Files.isRegularFile(out.resolve("runs/sft-pt-half_s0/ablate-eval.json")));
        assertEquals(3, Files.readAllLines(out.resolve("results.jsonl")).size());
        assertFalse(second.stream().anyMatch(l -> l.contains("sft-subimages seed 0: training")), log);
    }

    private static List<String> names(JsonNode row) {
        List<String> n = new ArrayList<>();
        row.path("stages").forEach(s -> n.add(s.path("name").asText()));
        return n;
    }

    private static String evalTemplate(Path out, String run) throws Exception {
        return JsonFiles.MAPPER.readTree(out.resolve("runs").resolve(run).resolve("ablate-eval.json").toFile())
                .path("template").asText();
    }
}
