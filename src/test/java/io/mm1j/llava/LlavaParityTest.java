package io.mm1j.llava;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.TestSupport;
import io.mm1j.llm.DecodePath;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.ImagePipeline;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.ChatMessage;
import io.mm1j.mllm.ChatTemplate;
import io.mm1j.mllm.GenerationConfig;
import io.mm1j.mllm.Prompt;
import io.mm1j.mllm.PromptBuilder;
import io.mm1j.mllm.TokenListener;
import io.mm1j.vision.RgbImage;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.ImageIoLoader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tiny random LLaVA-1.5 and LLaVA-NeXT folders in both key layouts (F16, BF16, F32; sharded and single-file), with
 * logits and greedy tokens from an independent PyTorch implementation of the HF forward
 * ({@code scripts/llava_reference.py}, float64). mm1j loads each folder as it is, builds the prompt through the
 * folder's tokenizer (BOS from its post-processor, {@code <image>} expanded to the picture's token count),
 * preprocesses the PNG through the folder's preprocessor config and must match.
 */
class LlavaParityTest {
    static final Path FIXTURES = Path.of("src/test/resources/llava");

    static JsonNode expected(String fixture) throws IOException {
        return new ObjectMapper().readTree(FIXTURES.resolve(fixture).resolve("expected.json").toFile());
    }

    @ParameterizedTest
    @ValueSource(strings = {"llava15-legacy", "llava15-new", "llava-next-legacy", "llava-next-new"})
    void logitsAndGreedyTokensMatchTheReference(String fixture) throws IOException {
        JsonNode exp = expected(fixture);
        Path dir = FIXTURES.resolve(fixture);
        try (NDManager m = TestSupport.root().newSubManager();
             Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"));
             Mm1Model model = Mm1Model.load(dir, m, DataType.FLOAT32)) {
            RgbImage picture = new ImageIoLoader().load(dir.resolve("image.png"));
            ImagePipeline.Prepared image = model.imagePipeline().prepare(picture, m);
            assertEquals(exp.get("tiles").asInt(), image.pixels().getShape().get(0), "tiles");
            assertEquals(exp.get("image_tokens").asInt(), image.tokens(), "image tokens");
            assertEquals(image.tokens(), model.imagePipeline().tokens(image.height(), image.width()));
            // PIL's bicubic in 22-bit fixed point vs mm1j's float32 may differ by one level at a rounding tie
            // (ImagePreprocessor); the fixtures' pictures have none, so the pixels agree to float32 rounding.
            float[] px = image.pixels().toFloatArray();
            int perTile = px.length / exp.get("tiles").asInt();
            for (int t = 0; t < exp.get("tiles").asInt(); t++) {
                double sum = 0;
                for (int i = t * perTile; i < (t + 1) * perTile; i++) {
                    sum += Math.abs(px[i]);
                }
                assertEquals(exp.get("pixel_abs_sums").get(t).asDouble(), sum, 1e-2, "tile " + t + " pixels");
            }
            long[] want = new long[exp.get("input_ids").size()];
            for (int i = 0; i < want.length; i++) {
                want[i] = exp.get("input_ids").get(i).asLong();
            }
            Prompt prompt = new PromptBuilder(model, tok).fromText(exp.get("prompt").asText(), List.of(picture));
            assertArrayEquals(want, prompt.ids(), "prompt ids (BOS from the post-processor, <image> expanded)");
            // the folder's chat template renders one user turn with the picture to the same prompt
            List<ChatMessage.Part> parts = new ArrayList<>();
            String[] around = exp.get("user").asText().split("<image>", -1);
            parts.add(new ChatMessage.TextPart(around[0]));
            parts.add(new ChatMessage.ImagePart(picture));
            parts.add(new ChatMessage.TextPart(around[1]));
            Prompt chat = new PromptBuilder(model, tok).fromChat(ChatTemplate.forModel(dir, tok),
                    List.of(new ChatMessage("user", parts)), true);
            assertArrayEquals(want, chat.ids(), "chat template prompt ids");

            if (exp.get("architecture").asText().equals(LlavaConfig.Kind.LLAVA.architecture)) {
                // training batches of single crops take the same features (feature layer, strategy, projector)
                assertArrayEquals(model.imagePipeline().encode(List.of(image)).toFloatArray(),
                        model.encodeImages(image.pixels()).toFloatArray());
            }
            NDArray embeds = model.inputEmbeddings(m.create(want, new Shape(1, want.length)), List.of(image),
                    model.imageTokenId(tok));
            float[] logits = model.decoder().forward(embeds, null, null, false).logits().toFloatArray();
            int vocab = exp.get("vocab_size").asInt();
            assertEquals((long) want.length * vocab, logits.length);
            double maxDiff = 0;
            for (int t = 0; t < want.length; t++) {
                for (int v = 0; v < vocab; v++) {
                    maxDiff = Math.max(maxDiff, Math.abs(logits[t * vocab + v] - exp.get("logits").get(t).get(v)
                            .asDouble()));
                }
            }
            System.out.printf("%s: max |Δlogit| = %.3g over %d×%d%n", fixture, maxDiff, want.length, vocab);
            assertTrue(maxDiff < 1e-4, fixture + ": max |Δlogit| = " + maxDiff);

            // greedy decoding through the one Generator (images prepared and encoded by the model's pipeline)
            List<Long> wantGreedy = new ArrayList<>();
            exp.get("greedy").forEach(n -> wantGreedy.add(n.asLong()));
            int eos = model.config().llm().eosTokenId();
            wantGreedy.remove(Long.valueOf(eos)); // the generator stops at EOS without emitting it
            Generator.Result r = new Generator(model, tok, DecodePath.CPU).generate(prompt,
                    GenerationConfig.greedy(exp.get("greedy").size()), TokenListener.NONE);
            List<Long> greedy = new ArrayList<>();
            for (long id : r.ids()) {
                greedy.add(id);
            }
            assertEquals(wantGreedy, greedy, "greedy tokens");
        }
    }
}
