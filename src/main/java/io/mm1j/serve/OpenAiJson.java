package io.mm1j.serve;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The response bodies of OpenAI's API reference (Chat Completions, legacy Completions, Models, errors), field for
 * field, so the official clients parse them.
 */
final class OpenAiJson {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private OpenAiJson() {}

    /** {@code {"error":{"message","type","param","code"}}}. */
    static ObjectNode error(String message, String type, String param, String code) {
        ObjectNode e = F.objectNode();
        e.put("message", message);
        e.put("type", type);
        e.put("param", param);
        e.put("code", code);
        ObjectNode root = F.objectNode();
        root.set("error", e);
        return root;
    }

    static ObjectNode error(ApiException e) {
        return error(e.getMessage(), e.type(), e.param(), e.code());
    }

    /** One entry of {@code GET /v1/models}. */
    static ObjectNode model(String id, long created) {
        ObjectNode m = F.objectNode();
        m.put("id", id);
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "mm1j");
        return m;
    }

    static ObjectNode models(String id, long created) {
        ObjectNode root = F.objectNode();
        root.put("object", "list");
        root.putArray("data").add(model(id, created));
        return root;
    }

    /**
     * OpenAI's usage object; {@code prompt_tokens} counts image tokens, and {@code prompt_tokens_details.image_tokens}
     * says how many of them there were (alongside OpenAI's {@code cached_tokens}).
     */
    static ObjectNode usage(Completion c) {
        ObjectNode u = F.objectNode();
        u.put("prompt_tokens", c.promptTokens());
        u.put("completion_tokens", c.completionTokens());
        u.put("total_tokens", c.promptTokens() + c.completionTokens());
        ObjectNode details = u.putObject("prompt_tokens_details");
        details.put("cached_tokens", 0);
        details.put("image_tokens", c.imageTokens());
        return u;
    }

    private static ObjectNode envelope(String id, String object, long created, String model) {
        ObjectNode root = F.objectNode();
        root.put("id", id);
        root.put("object", object);
        root.put("created", created);
        root.put("model", model);
        return root;
    }

    /** {@code chat.completion}. */
    static ObjectNode chatCompletion(String id, long created, String model, Completion c) {
        ObjectNode root = envelope(id, "chat.completion", created, model);
        root.putNull("system_fingerprint");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode msg = choice.putObject("message");
        msg.put("role", "assistant");
        msg.put("content", c.text());
        msg.putNull("refusal");
        choice.putNull("logprobs");
        choice.put("finish_reason", c.finishReason());
        root.set("usage", usage(c));
        return root;
    }

    /**
     * {@code chat.completion.chunk}: {@code role} and/or {@code content} in the delta (null = absent), or an empty
     * delta with the finish reason; {@code usage} is present as null on every chunk when the client asked for usage.
     */
    static ObjectNode chatChunk(String id, long created, String model, String role, String content,
                                String finishReason, boolean usageNull) {
        ObjectNode root = envelope(id, "chat.completion.chunk", created, model);
        root.putNull("system_fingerprint");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        if (role != null) {
            delta.put("role", role);
        }
        if (content != null) {
            delta.put("content", content);
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason);
        if (usageNull) {
            root.putNull("usage");
        }
        return root;
    }

    /** The last chunk of a stream with {@code include_usage}: no choices, the usage. */
    static ObjectNode usageChunk(String id, long created, String model, boolean chat, Completion c) {
        ObjectNode root = envelope(id, chat ? "chat.completion.chunk" : "text_completion", created, model);
        if (chat) {
            root.putNull("system_fingerprint");
        }
        root.set("choices", F.arrayNode());
        root.set("usage", usage(c));
        return root;
    }

    /** {@code text_completion} (legacy), whole or as one streamed chunk ({@code usage} null = absent). */
    static ObjectNode textCompletion(String id, long created, String model, String text, String finishReason,
                                     Completion usage) {
        ObjectNode root = envelope(id, "text_completion", created, model);
        ArrayNode choices = root.putArray("choices");
        ObjectNode choice = choices.addObject();
        choice.put("text", text);
        choice.put("index", 0);
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason);
        if (usage != null) {
            root.set("usage", usage(usage));
        }
        return root;
    }
}
