package io.mm1j.llava;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mm1j.config.ParamCount;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sparse configs the hub ships (llava-hf/llava-1.5-7b-hf, llava-hf/llava-v1.6-mistral-7b-hf): every key they
 * leave out takes transformers' class default, as from_pretrained does.
 */
class LlavaHubConfigTest {
    @TempDir
    Path tmp;

    private Path write(String json) throws Exception {
        Path f = tmp.resolve("config.json");
        Files.writeString(f, json);
        return f;
    }

    @Test
    void llava15SevenBConfigGetsLlamaAndClipDefaults() throws Exception {
        LlavaConfig c = LlavaConfig.read(write("""
                {"architectures": ["LlavaForConditionalGeneration"], "ignore_index": -100,
                 "image_token_index": 32000, "model_type": "llava", "pad_token_id": 32001,
                 "projector_hidden_act": "gelu",
                 "text_config": {"_name_or_path": "lmsys/vicuna-7b-v1.5", "architectures": ["LlamaForCausalLM"],
                   "max_position_embeddings": 4096, "model_type": "llama", "rms_norm_eps": 1e-05,
                   "torch_dtype": "float16", "vocab_size": 32064},
                 "tie_word_embeddings": false, "torch_dtype": "float16",
                 "vision_config": {"hidden_size": 1024, "image_size": 336, "intermediate_size": 4096,
                   "model_type": "clip_vision_model", "num_attention_heads": 16, "num_hidden_layers": 24,
                   "patch_size": 14, "projection_dim": 768, "vocab_size": 32000},
                 "vision_feature_layer": -2, "vision_feature_select_strategy": "default", "vocab_size": 32064}
                """));
        assertEquals(4096, c.text().hiddenSize());
        assertEquals(11008, c.text().intermediateSize());
        assertEquals(32, c.text().numLayers());
        assertEquals(32, c.text().numKvHeads());
        assertEquals("quick_gelu", c.vision().activation());
        assertEquals(-2, c.vision().featureLayer());
        assertEquals(576, c.tokensPerTile());
        assertEquals(32000, c.imageTokenId());
        // Llama-2-7B (6,738,415,616) + 64 more vocabulary rows in embedding and head (524,288)
        // + CLIP ViT-L/14 at 336 px (303,179,776 at 224 px + 320 more position rows · 1024 = 303,507,456)
        // + projector 1024·4096 + 4096 + 4096·4096 + 4096 (20,979,712)
        assertEquals(7_063_427_072L, ParamCount.all(c.mm1Config("llava-1.5-7b", "hub config")).get("total"));
    }

    @Test
    void llavaNextMistralConfigGetsMistralDefaultsAndTokenCountsPerPictureSize() throws Exception {
        LlavaConfig c = LlavaConfig.read(write("""
                {"architectures": ["LlavaNextForConditionalGeneration"], "ignore_index": -100,
                 "image_grid_pinpoints": [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]],
                 "image_token_index": 32000, "model_type": "llava_next", "projector_hidden_act": "gelu",
                 "text_config": {"_name_or_path": "mistralai/Mistral-7B-Instruct-v0.2",
                   "architectures": ["MistralForCausalLM"], "intermediate_size": 14336,
                   "max_position_embeddings": 32768, "model_type": "mistral", "num_key_value_heads": 8,
                   "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "sliding_window": null,
                   "torch_dtype": "bfloat16", "vocab_size": 32064},
                 "torch_dtype": "float16", "use_image_newline_parameter": true,
                 "vision_config": {"hidden_size": 1024, "image_size": 336, "intermediate_size": 4096,
                   "model_type": "clip_vision_model", "num_attention_heads": 16, "num_hidden_layers": 24,
                   "patch_size": 14, "projection_dim": 768, "vocab_size": 32000},
                 "vision_feature_layer": -2, "vision_feature_select_strategy": "default", "vocab_size": 32064}
                """));
        assertEquals(LlavaConfig.Kind.LLAVA_NEXT, c.kind());
        assertEquals(4096, c.text().hiddenSize());
        assertEquals(8, c.text().numKvHeads());
        assertEquals(1e6, c.text().ropeTheta());
        // expected counts from scripts/llava_reference.py's best_resolution + unpad (base 576 + rows·(cols + 1))
        int[][] cases = {{600, 800, 2340}, {1080, 1920, 1948}, {336, 336, 1176}, {1000, 200, 1656}};
        for (int[] hw : cases) {
            assertEquals(hw[2], AnyRes.tokens(hw[0], hw[1], c.gridPinpoints(), 336, 24), hw[0] + "x" + hw[1]);
        }
    }
}
