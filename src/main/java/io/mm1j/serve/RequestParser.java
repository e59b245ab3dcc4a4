package io.mm1j.serve;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Validates OpenAI request bodies field by field. Every mistake becomes a 400 that names the field ({@code param})
 * the way OpenAI does; fields OpenAI defines but this server cannot honour (tools, logprobs, penalties other than
 * 0) are refused rather than silently ignored, and unknown fields get OpenAI's "Unrecognized request argument".
 */
public final class RequestParser {
    /** Strict: trailing content after the JSON value ({@code {...} xyz}) is an error, not ignored. */
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    static {
        // Deeply nested JSON is a stack-exhaustion attack; no valid request nests deeper than 6.
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
    }

    /**
     * Request bodies only: a key sent twice is an error. JSON (RFC 8259 §4) leaves duplicate names undefined; Jackson
     * would keep the last, so {@code "max_tokens"} twice or a second {@code "messages"} would silently replace the
     * first, and a proxy that checks the first would see a different request than the model.
     */
    private static final ObjectReader REQUEST = JSON.reader().with(StreamReadFeature.STRICT_DUPLICATE_DETECTION);

    private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "seed", "stop",
            "n", "stream", "stream_options", "user", "frequency_penalty", "presence_penalty", "top_k", "min_p",
            "repetition_penalty", "logprobs");
    private static final Set<String> CHAT_ONLY = Set.of("messages", "max_completion_tokens", "top_logprobs",
            "metadata", "store", "tool_choice", "parallel_tool_calls");
    private static final Set<String> TEXT_ONLY = Set.of("prompt", "echo", "suffix", "best_of");

    private final ServeLimits limits;
    private final ImageUrls images;
    private final boolean acceptsImages;

    public RequestParser(ServeLimits limits, boolean acceptsImages) {
        this.limits = limits;
        this.images = new ImageUrls(limits);
        this.acceptsImages = acceptsImages;
    }

    /** Parses a body as JSON; malformed JSON is a 400 with the parser's location. */
    public static JsonNode json(byte[] body) {
        if (body.length == 0) {
            throw ApiException.invalid(null, "invalid_json", "the request body is empty; expected a JSON object");
        }
        try {
            JsonNode root = REQUEST.readTree(body);
            if (root == null || !root.isObject()) {
                throw ApiException.invalid(null, "invalid_json", "the request body must be a JSON object");
            }
            return root;
        } catch (JacksonException e) {
            String key = duplicateKey(e);
            if (key != null) {
                throw ApiException.invalid(key, "duplicate_key", "the request body has the key '" + key + "' more than "
                        + "once" + at(e) + "; send each key once");
            }
            // read limits (nesting depth, number length, name length) raise exceptions without a location
            throw ApiException.invalid(null, "invalid_json", "malformed JSON in the request body: "
                    + e.getOriginalMessage() + at(e));
        } catch (java.io.IOException e) {
            throw ApiException.invalid(null, "invalid_json", "unreadable request body: " + e.getMessage());
        }
    }

    private static String at(JacksonException e) {
        com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
        return at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }

    /**
     * The path of the key that {@link StreamReadFeature#STRICT_DUPLICATE_DETECTION} found twice, as a {@code param}
     * ({@code max_tokens}, {@code messages[0].content}), or null when {@code e} is another error. Jackson has no
     * exception type of its own for it, only this message.
     */
    private static String duplicateKey(JacksonException e) {
        if (!(e instanceof StreamReadException read) || read.getProcessor() == null
                || !e.getOriginalMessage().startsWith("Duplicate field '")) {
            return null;
        }
        java.util.Deque<String> parts = new java.util.ArrayDeque<>();
        for (JsonStreamContext c = read.getProcessor().getParsingContext(); c != null && !c.inRoot();
             c = c.getParent()) {
            parts.addFirst(c.inArray() ? "[" + c.getCurrentIndex() + "]" : "." + c.getCurrentName());
        }
        String path = String.join("", parts);
        return path.startsWith(".") ? path.substring(1) : path;
    }

    /** {@code POST /v1/chat/completions}. */
    public CompletionRequest chat(JsonNode body) {
        checkFields(body, CHAT_ONLY);
        refuseUnsupported(body);
        JsonNode msgs = body.get("messages");
        if (msgs == null || msgs.isNull()) {
            throw ApiException.invalid("messages", "missing required parameter: 'messages'");
        }
        if (!msgs.isArray() || msgs.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array of messages");
        }
        List<ChatTurn> turns = new ArrayList<>();
        int[] imageCount = {0};
        for (int i = 0; i < msgs.size(); i++) {
            turns.add(message(msgs.get(i), "messages[" + i + "]", imageCount));
        }
        Integer max = optInt(body, "max_tokens", 1);
        Integer maxCompletion = optInt(body, "max_completion_tokens", 1);
        if (max != null && maxCompletion != null && !max.equals(maxCompletion)) {
            throw ApiException.invalid("max_completion_tokens", "'max_tokens' (" + max + ") and "
                    + "'max_completion_tokens' (" + maxCompletion + ") disagree; send one of them");
        }
        Sampling s = sampling(body, maxCompletion != null ? maxCompletion : max,
                maxCompletion != null ? "max_completion_tokens" : "max_tokens");
        boolean stream = optBool(body, "stream", false);
        return new CompletionRequest(model(body), new ChatBackend.ChatInput(turns), s, stream,
                includeUsage(body, stream), true);
    }

    /** {@code POST /v1/completions} (text only; OpenAI's default of 16 tokens when max_tokens is absent). */
    public CompletionRequest text(JsonNode body) {
        checkFields(body, TEXT_ONLY);
        refuseUnsupported(body);
        JsonNode p = body.get("prompt");
        String prompt;
        if (p == null || p.isNull()) {
            throw ApiException.invalid("prompt", "missing required parameter: 'prompt'");
        } else if (p.isTextual()) {
            prompt = p.asText();
        } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            prompt = p.get(0).asText();
        } else {
            throw ApiException.invalid("prompt", "'prompt' must be a string (or an array of exactly one string; "
                    + "batched and token-id prompts are not supported)");
        }
        if (optBool(body, "echo", false)) {
            throw ApiException.invalid("echo", "unsupported_parameter", "'echo' is not supported");
        }
        JsonNode suffix = body.get("suffix");
        if (suffix != null && !suffix.isNull()) {
            throw ApiException.invalid("suffix", "unsupported_parameter", "'suffix' is not supported");
        }
        Integer bestOf = optInt(body, "best_of", 1);
        if (bestOf != null && bestOf != 1) {
            throw ApiException.invalid("best_of", "unsupported_parameter", "'best_of' must be 1, got " + bestOf);
        }
        Integer max = optInt(body, "max_tokens", 1);
        Sampling s = sampling(body, max == null ? Math.min(16, limits.maxTokens()) : max, "max_tokens");
        boolean stream = optBool(body, "stream", false);
        return new CompletionRequest(model(body), new ChatBackend.TextInput(prompt), s, stream,
                includeUsage(body, stream), false);
    }

    private static String model(JsonNode body) {
        JsonNode m = body.get("model");
        if (m == null || m.isNull()) {
            throw ApiException.invalid("model", "missing required parameter: 'model'");
        }
        if (!m.isTextual()) {
            throw ApiException.invalid("model", "'model' must be a string");
        }
        return m.asText();
    }

    private static void checkFields(JsonNode body, Set<String> endpointFields) {
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!COMMON.contains(f) && !endpointFields.contains(f)) {
                throw ApiException.invalid(f, "unknown_parameter", "Unrecognized request argument supplied: " + f);
            }
        }
        // accepted and ignored, but still of OpenAI's types (a wrong type is a client bug worth reporting)
        requireType(body.get("user"), "user", JsonNode::isTextual, "a string");
        requireType(body.get("metadata"), "metadata", JsonNode::isObject, "an object");
        requireType(body.get("store"), "store", JsonNode::isBoolean, "a boolean");
        requireType(body.get("parallel_tool_calls"), "parallel_tool_calls", JsonNode::isBoolean, "a boolean");
    }

    /** A present, non-null {@code n} must pass {@code ok}; else a 400 naming {@code at} and the expected type. */
    private static void requireType(JsonNode n, String at, java.util.function.Predicate<JsonNode> ok, String what) {
        if (n != null && !n.isNull() && !ok.test(n)) {
            throw ApiException.invalid(at, "'" + at + "' must be " + what + ", got " + abbreviated(n));
        }
    }

    private static String abbreviated(JsonNode n) {
        String s = n.toString();
        return s.length() > 40 ? s.substring(0, 37) + "..." : s;
    }

    /** Fields OpenAI defines whose non-default values would change the answer in ways this server does not do. */
    private static void refuseUnsupported(JsonNode body) {
        Integer n = optInt(body, "n", 1);
        if (n != null && n != 1) {
            throw ApiException.invalid("n", "unsupported_parameter", "'n' must be 1 (one choice per request), got "
                    + n);
        }
        for (String penalty : List.of("frequency_penalty", "presence_penalty")) {
            Double v = optDouble(body, penalty, -2, 2);
            if (v != null && v != 0) {
                throw ApiException.invalid(penalty, "unsupported_parameter", "'" + penalty + "' is not supported "
                        + "(use 'repetition_penalty'); send 0 or leave it out");
            }
        }
        JsonNode lp = body.get("logprobs");
        if (lp != null && !lp.isNull() && !(lp.isBoolean() && !lp.asBoolean()) && !(lp.isInt() && lp.asInt() == 0)) {
            throw ApiException.invalid("logprobs", "unsupported_parameter", "'logprobs' is not supported");
        }
        JsonNode tlp = body.get("top_logprobs");
        if (tlp != null && !tlp.isNull() && !(tlp.isInt() && tlp.asInt() == 0)) {
            throw ApiException.invalid("top_logprobs", "unsupported_parameter", "'top_logprobs' is not supported");
        }
        JsonNode tc = body.get("tool_choice");
        if (tc != null && !tc.isNull() && !(tc.isTextual() && tc.asText().equals("none"))) {
            throw ApiException.invalid("tool_choice", "unsupported_parameter", "tools are not supported; "
                    + "'tool_choice' may only be \"none\"");
        }
    }

    private Sampling sampling(JsonNode body, Integer maxTokens, String maxField) {
        if (maxTokens != null && maxTokens > limits.maxTokens()) {
            throw ApiException.invalid(maxField, "'" + maxField + "' is " + maxTokens + "; this server allows at "
                    + "most " + limits.maxTokens() + " (--max-tokens)");
        }
        Double temperature = optDouble(body, "temperature", 0, 2);
        Double topP = optDouble(body, "top_p", 0, 1);
        Integer topK = optInt(body, "top_k", 0);
        Double minP = optDouble(body, "min_p", 0, 1);
        if (minP != null && minP == 1) {
            throw ApiException.invalid("min_p", "'min_p' must be within [0, 1), got 1");
        }
        Double rep = optDouble(body, "repetition_penalty", 0, 10);
        if (rep != null && rep == 0) {
            throw ApiException.invalid("repetition_penalty", "'repetition_penalty' must be > 0 (1 = off), got 0");
        }
        Long seed = null;
        JsonNode sn = body.get("seed");
        if (sn != null && !sn.isNull()) {
            if (!sn.isIntegralNumber()) {
                throw ApiException.invalid("seed", "'seed' must be an integer, got " + sn);
            }
            if (!sn.canConvertToLong()) {
                throw ApiException.invalid("seed", "'seed' must be a 64-bit integer, got " + sn);
            }
            seed = sn.asLong();
        }
        double t = temperature == null ? 1.0 : temperature;
        double p = topP == null ? 1.0 : topP;
        if (p == 0) { // nucleus of zero mass: only the most likely token, as greedy
            t = 0;
            p = 1;
        }
        return new Sampling(maxTokens, t, p, topK == null ? 0 : topK, minP == null ? 0 : minP,
                rep == null ? 1 : rep, seed, stop(body));
    }

    private static List<String> stop(JsonNode body) {
        JsonNode s = body.get("stop");
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray()) {
            if (s.size() > 4) {
                throw ApiException.invalid("stop", "'stop' takes at most 4 sequences, got " + s.size());
            }
            for (JsonNode e : s) {
                if (!e.isTextual()) {
                    throw ApiException.invalid("stop", "'stop' must be a string or an array of strings");
                }
                out.add(e.asText());
            }
        } else {
            throw ApiException.invalid("stop", "'stop' must be a string or an array of strings");
        }
        for (String x : out) {
            if (x.isEmpty()) {
                throw ApiException.invalid("stop", "'stop' sequences must not be empty");
            }
        }
        return out;
    }

    private static boolean includeUsage(JsonNode body, boolean stream) {
        JsonNode so = body.get("stream_options");
        if (so == null || so.isNull()) {
            return false;
        }
        if (!stream) {
            throw ApiException.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
        }
        if (!so.isObject()) {
            throw ApiException.invalid("stream_options", "'stream_options' must be an object");
        }
        for (Iterator<String> it = so.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("include_usage") && !f.equals("include_obfuscation")) {
                throw ApiException.invalid("stream_options." + f, "unknown_parameter",
                        "Unrecognized request argument supplied: stream_options." + f);
            }
        }
        JsonNode iu = so.get("include_usage");
        if (iu == null || iu.isNull()) {
            return false;
        }
        if (!iu.isBoolean()) {
            throw ApiException.invalid("stream_options.include_usage", "'stream_options.include_usage' must be a "
                    + "boolean");
        }
        return iu.asBoolean();
    }

    private ChatTurn message(JsonNode m, String at, int[] imageCount) {
        if (!m.isObject()) {
            throw ApiException.invalid(at, at + " must be an object with 'role' and 'content'");
        }
        JsonNode r = m.get("role");
        if (r == null || !r.isTextual()) {
            throw ApiException.invalid(at + ".role", at + ".role must be one of system, developer, user, assistant");
        }
        String role = r.asText();
        switch (role) {
            case "system", "developer", "user", "assistant" -> { }
            case "tool", "function" -> throw ApiException.invalid(at + ".role", "unsupported_parameter", at
                    + ".role '" + role + "': tools are not supported");
            default -> throw ApiException.invalid(at + ".role", at + ".role must be one of system, developer, user, "
                    + "assistant, got '" + role + "'");
        }
        for (Iterator<String> it = m.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (f.equals("tool_calls") || f.equals("function_call")) {
                throw ApiException.invalid(at + "." + f, "unsupported_parameter", at + "." + f
                        + ": tools are not supported");
            }
            if (!f.equals("role") && !f.equals("content") && !f.equals("name") && !f.equals("refusal")) {
                throw ApiException.invalid(at + "." + f, "unknown_parameter",
                        "Unrecognized request argument supplied: " + at + "." + f);
            }
        }
        requireType(m.get("name"), at + ".name", JsonNode::isTextual, "a string");
        requireType(m.get("refusal"), at + ".refusal", JsonNode::isTextual, "a string");
        JsonNode c = m.get("content");
        List<ChatTurn.Content> content = new ArrayList<>();
        if (c == null || c.isNull()) {
            throw ApiException.invalid(at + ".content", "missing required parameter: '" + at + ".content'");
        } else if (c.isTextual()) {
            content.add(new ChatTurn.Text(c.asText()));
        } else if (c.isArray()) {
            if (c.isEmpty()) { // a turn with nothing in it: the template would still emit its role header
                throw ApiException.invalid(at + ".content", at + ".content is an empty array; send at least one "
                        + "content part, or a string");
            }
            for (int j = 0; j < c.size(); j++) {
                content.add(part(c.get(j), at + ".content[" + j + "]", role, imageCount));
            }
        } else {
            throw ApiException.invalid(at + ".content", at + ".content must be a string or an array of content "
                    + "parts");
        }
        return new ChatTurn(role.equals("developer") ? "system" : role, content);
    }

    private ChatTurn.Content part(JsonNode p, String at, String role, int[] imageCount) {
        JsonNode type = p.isObject() ? p.get("type") : null;
        if (type == null || !type.isTextual()) {
            throw ApiException.invalid(at + ".type", at + " must be an object with a 'type' (text or image_url)");
        }
        switch (type.asText()) {
            case "text" -> {
                JsonNode t = p.get("text");
                if (t == null || !t.isTextual()) {
                    throw ApiException.invalid(at + ".text", at + ".text must be a string");
                }
                return new ChatTurn.Text(t.asText());
            }
            case "image_url" -> {
                if (!role.equals("user")) {
                    throw ApiException.invalid(at + ".type", "image content is only allowed in user messages, "
                            + "found in a '" + role + "' message");
                }
                if (!acceptsImages) {
                    throw ApiException.invalid(at + ".type", "image_not_supported", "this model is text-only; it "
                            + "cannot take image content");
                }
                if (++imageCount[0] > limits.maxImages()) {
                    throw ApiException.invalid(at, "too_many_images", "a request may carry at most "
                            + limits.maxImages() + " image(s) (--max-images)");
                }
                JsonNode iu = p.get("image_url");
                JsonNode url = iu == null ? null : iu.isTextual() ? iu : iu.get("url");
                if (url == null || !url.isTextual()) {
                    throw ApiException.invalid(at + ".image_url.url", at + ".image_url.url must be a string");
                }
                if (iu.isObject()) {
                    for (Iterator<String> it = iu.fieldNames(); it.hasNext(); ) {
                        String f = it.next();
                        if (!f.equals("url") && !f.equals("detail")) {
                            throw ApiException.invalid(at + ".image_url." + f, "unknown_parameter",
                                    "Unrecognized request argument supplied: " + at + ".image_url." + f);
                        }
                    }
                }
                JsonNode detail = iu.isObject() ? iu.get("detail") : null;
                if (detail != null && !detail.isNull() && !Set.of("auto", "low", "high").contains(detail.asText())) {
                    throw ApiException.invalid(at + ".image_url.detail", at + ".image_url.detail must be auto, low "
                            + "or high");
                }
                return images.load(url.asText(), at + ".image_url.url");
            }
            default -> throw ApiException.invalid(at + ".type", at + ".type must be text or image_url, got '"
                    + type.asText() + "'");
        }
    }

    private static boolean optBool(JsonNode body, String field, boolean dflt) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return dflt;
        }
        if (!n.isBoolean()) {
            throw ApiException.invalid(field, "'" + field + "' must be a boolean, got " + n);
        }
        return n.asBoolean();
    }

    private static Integer optInt(JsonNode body, String field, int min) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isIntegralNumber()) {
            throw ApiException.invalid(field, "'" + field + "' must be an integer, got " + n);
        }
        if (!n.canConvertToInt()) {
            throw ApiException.invalid(field, "'" + field + "' must be an integer from " + min + " to "
                    + Integer.MAX_VALUE + ", got " + n);
        }
        if (n.asInt() < min) {
            throw ApiException.invalid(field, "'" + field + "' must be >= " + min + ", got " + n.asInt());
        }
        return n.asInt();
    }

    private static Double optDouble(JsonNode body, String field, double min, double max) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isNumber()) {
            throw ApiException.invalid(field, "'" + field + "' must be a number, got " + n);
        }
        double v = n.asDouble();
        if (!(v >= min && v <= max)) {
            throw ApiException.invalid(field, "'" + field + "' must be within [" + fmt(min) + ", " + fmt(max)
                    + "], got " + n);
        }
        return v;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }
}
