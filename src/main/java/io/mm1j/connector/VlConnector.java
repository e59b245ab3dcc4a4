package io.mm1j.connector;

import ai.djl.ndarray.NDArray;

/**
 * Vision-language connector (MM1_SPEC.md §1 "VL connector"): maps the encoder's patch grid to a fixed number of
 * image tokens in the LLM's width. MM1's finding is that the token count k and the image resolution matter, the
 * connector type much less — so all four types share this one contract and the config picks one.
 *
 * <p>Parameters live in the caller's {@link io.mm1j.nn.ParamStore} under {@link #PREFIX}, next to the encoder's
 * {@code vision_model.*} and the decoder's {@code model.*}, so one checkpoint holds the whole MM1 model.
 */
public interface VlConnector {
    String PREFIX = "connector.";

    /**
     * @param patchTokens encoder patch tokens (N, P, Dv), P a square grid for the pooling connectors
     * @return image tokens (N, k, D_llm)
     */
    NDArray forward(NDArray patchTokens);

    /** k: tokens per image (fills k placeholder positions of an {@code <image>} slot). */
    int imageTokens();
}
