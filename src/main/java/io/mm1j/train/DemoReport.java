package io.mm1j.train;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.io.AtomicFiles;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.tensor.Engines;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The demo's write-up: the pre-trained model evaluated 0-shot with its images and blind (images zeroed), and
 * {@code report.md} with the run's figures and plots.
 */
public final class DemoReport {
    /** Scores with and without the pictures. */
    public record Result(QuickEval.Scores seen, QuickEval.Scores blind) {}

    private DemoReport() {}

    public static Result write(Pretrainer.Result run, Path out, int items) {
        Path dir = run.runDir();
        QuickEval.Scores seen;
        QuickEval.Scores blind;
        String lrSource;
        try (NDManager root = Engines.newRootManager(0);
             Mm1Model model = Mm1Model.load(dir.resolve("model"), root, DataType.FLOAT32);
             Tokenizer tok = Tokenizer.load(dir.resolve("model/tokenizer.json"))) {
            seen = QuickEval.run(model, tok, dir.resolve("data"), "test", items, false);
            blind = QuickEval.run(model, tok, dir.resolve("data"), "test", items, true);
            double law = LrLaw.MM1.peakLr(io.mm1j.config.ParamCount.llm(model.config().llm()).nonEmbedding());
            lrSource = RunConfig.JSON.readTree(dir.resolve("run.json").toFile()).path("optim").path("lr").isNull()
                    ? "from MM1's LR law" : String.format(Locale.ROOT, "(MM1's LR law gives %.3g at this size)", law);
        } catch (java.io.IOException e) {
            throw new io.mm1j.Mm1Exception(dir.resolve("run.json") + ": unreadable (" + e.getMessage() + ")", e);
        }
        JsonNode s = run.summary();
        Path rel = out.toAbsolutePath().normalize().relativize(dir);
        String md = String.format(Locale.ROOT, """
                # mm1j demo report

                A `mini` MM1 (ViT 64 px → C-Abstractor, 16 image tokens → Llama d=256, 4 layers; %,d parameters) pre-trained
                from scratch for %d steps on the synthetic world, MM1's mix of 45%% interleaved documents, 45%% captions and
                10%% text, warm-up + cosine schedule, peak LR %.3g %s, all through `mm1 pretrain`
                (run folder `%s`).

                | | value |
                |---|---|
                | final validation loss | %.4f |
                | training throughput | %.0f tokens/s |
                | wall time | %.0f s |

                ## 0-shot evaluation on %d held-out (test split) images

                | | with images | images blanked |
                |---|---|---|
                | caption CIDEr-D | %.3f | %.3f |
                | VQA accuracy (%%) | %.1f | %.1f |

                VQA questions are not part of the pre-training mix (MM1 pre-trains on captions, interleaved documents and
                text; question answering comes with SFT), so 0-shot VQA stays low; captions are what pre-training teaches.

                Examples (greedy):
                %s

                ## Curves

                ![loss](%s/plots/loss.png)
                ![loss per source](%s/plots/loss-per-source.png)
                ![validation loss with the images and blanked](%s/plots/val-vs-blind.png)
                ![learning rate](%s/plots/lr.png)
                ![gradient norm](%s/plots/grad-norm.png)
                """, s.path("params").asLong(), s.path("steps").asLong(), s.path("peakLr").asDouble(), lrSource, rel,
                s.path("finalValLoss").asDouble(), s.path("tokensPerSecond").asDouble(),
                s.path("wallSeconds").asDouble(), seen.captions(), seen.cider(), blind.cider(), seen.vqa(), blind.vqa(),
                String.join("\n", seen.examples().stream().map(e -> "- " + e).toList()), rel, rel, rel, rel, rel);
        AtomicFiles.writeString(out.resolve("report.md"), md);
        return new Result(seen, blind);
    }
}
