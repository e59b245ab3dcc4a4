package io.mm1j.config;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.mm1j.Mm1Exception;

/**
 * A whole MM1 model: image encoder → connector → decoder LLM. Vision and connector are null for a text-only LLM
 * (e.g. a Hugging Face Llama loaded as is).
 *
 * @param name                  preset or run name
 * @param description           one line for {@code mm1 info}
 * @param llm                   the decoder
 * @param vision                the ViT, or null
 * @param connector             the VL connector, or null
 * @param maxImagesPerSequence  MM1 pre-training packs up to 16 images per sequence
 * @param highRes               sub-image tiling of each picture (MM1's SFT), or null for one encoder pass per picture
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Mm1Config(String name, String description, LlmConfig llm, VisionConfig vision,
                        ConnectorConfig connector, int maxImagesPerSequence, HighResConfig highRes) {
    /** A model without high-resolution tiling. */
    public Mm1Config(String name, String description, LlmConfig llm, VisionConfig vision, ConnectorConfig connector,
                     int maxImagesPerSequence) {
        this(name, description, llm, vision, connector, maxImagesPerSequence, null);
    }

    public Mm1Config {
        if (highRes != null && vision == null) {
            throw new Mm1Exception("config: 'highRes' needs a 'vision' section");
        }
        if (llm == null) {
            throw new Mm1Exception("config needs an 'llm' section");
        }
        if ((vision == null) != (connector == null)) {
            throw new Mm1Exception("config: 'vision' and 'connector' must be given together");
        }
        if (maxImagesPerSequence < 0) {
            throw new Mm1Exception("maxImagesPerSequence must be >= 0, got " + maxImagesPerSequence);
        }
    }

    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isMultimodal() {
        return vision != null;
    }

    public Mm1Config withLlm(LlmConfig l) {
        return new Mm1Config(name, description, l, vision, connector, maxImagesPerSequence, highRes);
    }

    /** The same model with another connector config. */
    public Mm1Config withConnector(ConnectorConfig k) {
        return new Mm1Config(name, description, llm, vision, k, maxImagesPerSequence, highRes);
    }

    /** The same model with another encoder resolution and high-resolution tiling (null: off). */
    public Mm1Config withHighRes(VisionConfig v, HighResConfig h) {
        return new Mm1Config(name, description, llm, v, connector, maxImagesPerSequence, h);
    }
}
