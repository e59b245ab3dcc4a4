package io.mm1j.mllm;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.BoundedFiles;
import io.mm1j.io.JsonFiles;
import io.mm1j.tokenizer.SpecialTokens;
import io.mm1j.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A model's chat template, Hugging Face's convention: a Jinja template rendered with {@code messages},
 * {@code add_generation_prompt}, {@code bos_token} and {@code eos_token}, read from the model folder's
 * {@code chat_template.jinja}, {@code chat_template.json} (processors, e.g. LLaVA) or {@code tokenizer_config.json}
 * ({@code chat_template}: a string, or a list of named templates of which "default" is used), in that order. A folder
 * without one gets mm1j's template ({@link #MM1J}), the layout SFT conversations are packed in
 * ({@code <|role|>text<|end|>}, ids fixed in {@link SpecialTokens}).
 *
 * <p>Rendering is Jinjava with HF's environment settings ({@code trim_blocks}, {@code lstrip_blocks}) plus what HF
 * templates rely on beyond standard Jinja: {@code raise_exception(msg)}, the {@code {% generation %}} block (rendered
 * as its body) and the Python string methods {@code upper lower strip lstrip rstrip startswith endswith} (rewritten
 * to their Java equivalents). Message content is passed as HF processors pass it: a list of parts
 * ({@code {"type": "text", "text": …}}, {@code {"type": "image"}}) when the template reads parts (it mentions
 * {@code type}), else a string in which each image is written {@code <image>}. Either way every image becomes the
 * image placeholder text {@code <image>}, which {@link PromptBuilder} expands to the model's k image tokens.
 *
 * <p>Thread-safe: rendering keeps no state between calls.
 */
public final class ChatTemplate {
    /** The text an image part renders as: one image slot ({@link SpecialTokens#IMAGE}). */
    public static final String IMAGE_PLACEHOLDER = SpecialTokens.IMAGE;

    /**
     * mm1j's template: BOS, then per message {@code <|role|>content<|end|>} (images at their place in the content),
     * then {@code <|assistant|>} when a reply is wanted; roles other than system/user/assistant are refused.
     */
    public static final String MM1J = "{{ bos_token }}"
            + "{% for message in messages %}"
            + "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
            + "{{ raise_exception('role must be system, user or assistant, got ' ~ message['role']) }}"
            + "{% endif %}"
            + "{{ '<|' ~ message['role'] ~ '|>' }}"
            + "{% if message['content'] is string %}{{ message['content'] }}"
            + "{% else %}{% for part in message['content'] %}"
            + "{% if part['type'] == 'image' %}{{ '<image>' }}{% elif part['type'] == 'text' %}{{ part['text'] }}"
            + "{% endif %}{% endfor %}{% endif %}"
            + "{{ '<|end|>' }}"
            + "{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

    /** Largest template file read (real templates are a few KB; tool-use ones ~10 KB). */
    private static final long MAX_FILE_BYTES = 4L << 20;
    /** Largest rendered prompt: far beyond any context window, small enough to never exhaust the heap. */
    private static final long MAX_OUTPUT_CHARS = 64L << 20;

    private final String source;
    private final String origin;
    private final String bosToken;
    private final String eosToken;
    private final boolean partsContent;
    private final Jinjava jinja;
    private final List<String> stopStrings;
    private final Set<Integer> stopIds;

    private ChatTemplate(String source, String origin, String bosToken, String eosToken, Tokenizer tok) {
        this.source = source;
        this.origin = origin;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.partsContent = source.contains("type");
        this.jinja = newJinjava();
        this.stopStrings = List.copyOf(findStops(tok));
        Set<Integer> ids = new LinkedHashSet<>();
        for (String s : stopStrings) {
            if (tok != null && tok.specialId(s) >= 0) {
                ids.add(tok.specialId(s));
            }
        }
        this.stopIds = Set.copyOf(ids);
    }

    /**
     * The template of a model folder (see the class comment for where it is looked for), or mm1j's default when the
     * folder has none. {@code tok} resolves stop strings that are special tokens to ids (may be null).
     */
    public static ChatTemplate forModel(Path modelDir, Tokenizer tok) {
        Path cfgFile = modelDir.resolve("tokenizer_config.json");
        JsonNode cfg = Files.isRegularFile(cfgFile) ? readJson(cfgFile) : null;
        String bos = tokenText(cfg, "bos_token", tok, SpecialTokens.BOS);
        String eos = tokenText(cfg, "eos_token", tok, SpecialTokens.EOS);
        Path jinjaFile = modelDir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinjaFile)) {
            return of(BoundedFiles.readUtf8(jinjaFile, MAX_FILE_BYTES, "chat template"), jinjaFile.toString(), bos,
                    eos, tok);
        }
        Path jsonFile = modelDir.resolve("chat_template.json");
        if (Files.isRegularFile(jsonFile)) {
            String t = templateField(jsonFile, readJson(jsonFile));
            if (t != null) {
                return of(t, jsonFile.toString(), bos, eos, tok);
            }
        }
        if (cfg != null) {
            String t = templateField(cfgFile, cfg);
            if (t != null) {
                return of(t, cfgFile.toString(), bos, eos, tok);
            }
        }
        return of(MM1J, "mm1j default chat template", bos, eos, tok);
    }

    /** mm1j's template with {@code <s>} / {@code </s>}. */
    public static ChatTemplate mm1j(Tokenizer tok) {
        return of(MM1J, "mm1j default chat template", SpecialTokens.BOS, SpecialTokens.EOS, tok);
    }

    /**
     * A template from source.
     *
     * @param origin named in error messages (the file it came from)
     */
    public static ChatTemplate of(String source, String origin, String bosToken, String eosToken, Tokenizer tok) {
        if (source == null || source.isBlank()) {
            throw new Mm1Exception(origin + ": chat template is empty");
        }
        return new ChatTemplate(source, origin, bosToken == null ? "" : bosToken, eosToken == null ? "" : eosToken,
                tok);
    }

    /**
     * Renders a conversation.
     *
     * @param addGenerationPrompt end with the cue for the assistant's reply
     * @throws Mm1Exception naming the template's file when the template is broken or refuses the conversation
     *                      ({@code raise_exception})
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", toJinja(messages));
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", bosToken);
        ctx.put("eos_token", eosToken);
        RenderResult r;
        try {
            r = jinja.renderForResult(pythonMethods(source), ctx);
        } catch (RuntimeException e) {
            throw new Mm1Exception(origin + ": chat template failed: " + e.getMessage(), e);
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() != TemplateError.ErrorType.FATAL) {
                continue;
            }
            String refused = refusal(e);
            if (refused != null) {
                throw new Mm1Exception(origin + ": chat template refused the conversation: " + refused);
            }
            throw new Mm1Exception(origin + ": chat template error"
                    + (e.getLineno() > 0 ? " at line " + e.getLineno() : "") + ": " + e.getMessage());
        }
        return r.getOutput();
    }

    /**
     * Strings that end the assistant's turn: what the template writes right after an assistant message (e.g.
     * {@code <|end|>}, {@code <|im_end|>}, {@code </s>}), found by rendering a probe conversation, and the EOS token.
     */
    public List<String> stopStrings() {
        return stopStrings;
    }

    /** The ids of those {@link #stopStrings} that are single special tokens of the tokenizer. */
    public Set<Integer> stopIds() {
        return stopIds;
    }

    /** The template source. */
    public String source() {
        return source;
    }

    /** Where the template came from (a file, or "mm1j default chat template"). */
    public String origin() {
        return origin;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    // --- rendering -----------------------------------------------------------------------------------------------

    private static Jinjava newJinjava() {
        JinjavaConfig cfg = JinjavaConfig.newBuilder()
                .withTrimBlocks(true) // as transformers' ImmutableSandboxedEnvironment for chat templates
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                .withMaxOutputSize(MAX_OUTPUT_CHARS)
                .withNestedInterpretationEnabled(false)
                .build();
        Jinjava j = new Jinjava(cfg);
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
        j.getGlobalContext().registerTag(new GenerationTag());
        return j;
    }

    /** A template's {@code raise_exception}: ends rendering with the template's message. */
    public static String raiseException(String message) {
        throw new TemplateRefusal(message);
    }

    private static final class TemplateRefusal extends RuntimeException {
        TemplateRefusal(String message) {
            super(message);
        }
    }

    /** The template's own message when the error is a {@code raise_exception}, else null. */
    private static String refusal(TemplateError e) {
        for (Throwable t = e.getException(); t != null; t = t.getCause()) {
            if (t instanceof TemplateRefusal r) {
                return r.getMessage();
            }
        }
        String m = e.getMessage() == null ? "" : e.getMessage();
        return m.contains(TemplateRefusal.class.getName()) ? m.substring(m.indexOf(TemplateRefusal.class.getName())
                + TemplateRefusal.class.getName().length()).replaceFirst("^:\\s*", "") : null;
    }

    /**
     * {@code {% generation %}…{% endgeneration %}} (transformers marks the assistant's tokens with it for
     * {@code return_assistant_tokens_mask}): rendered as its body.
     */
    private static final class GenerationTag implements Tag {
        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String getEndTagName() {
            return "endgeneration";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder sb = new StringBuilder();
            for (Node child : tagNode.getChildren()) {
                sb.append(child.render(interpreter).getValue());
            }
            return sb.toString();
        }
    }

    private static final Pattern PY_METHOD = Pattern.compile(
            "\\.(upper|lower|strip|lstrip|rstrip)\\(\\s*\\)|\\.(startswith|endswith)\\(");

    /** Python string methods HF templates call → the Java methods of the same meaning (Jinjava calls Java's). */
    static String pythonMethods(String src) {
        Matcher m = PY_METHOD.matcher(src);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String name = m.group(1) != null ? m.group(1) : m.group(2);
            String java = switch (name) {
                case "upper" -> ".toUpperCase()";
                case "lower" -> ".toLowerCase()";
                case "strip" -> ".strip()";
                case "lstrip" -> ".stripLeading()";
                case "rstrip" -> ".stripTrailing()";
                case "startswith" -> ".startsWith(";
                default -> ".endsWith(";
            };
            m.appendReplacement(sb, Matcher.quoteReplacement(java));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /** Messages as the template sees them: {@code role} and {@code content} (parts or a string). */
    private List<Map<String, Object>> toJinja(List<ChatMessage> messages) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("role", m.role());
            if (partsContent) {
                List<Map<String, Object>> parts = new ArrayList<>();
                for (ChatMessage.Part p : m.parts()) {
                    Map<String, Object> part = new LinkedHashMap<>();
                    if (p instanceof ChatMessage.TextPart t) {
                        part.put("type", "text");
                        part.put("text", t.text());
                    } else {
                        part.put("type", "image");
                    }
                    parts.add(part);
                }
                msg.put("content", parts);
            } else {
                StringBuilder sb = new StringBuilder();
                for (ChatMessage.Part p : m.parts()) {
                    sb.append(p instanceof ChatMessage.TextPart t ? t.text() : IMAGE_PLACEHOLDER);
                }
                msg.put("content", sb.toString());
            }
            out.add(msg);
        }
        return out;
    }

    // --- stops ---------------------------------------------------------------------------------------------------

    private static final String PROBE = "Zq7x9Kp";

    /** The end-of-turn marker after a probe assistant message (a special token of the tokenizer), then EOS. */
    private List<String> findStops(Tokenizer tok) {
        Set<String> stops = new LinkedHashSet<>();
        String rendered = render(List.of(ChatMessage.text("user", "hi"), ChatMessage.text("assistant", PROBE)),
                false); // also checks the template's syntax now rather than at the first request
        int at = rendered.lastIndexOf(PROBE);
        if (at >= 0 && tok != null) {
            String tail = rendered.substring(at + PROBE.length()).stripLeading();
            String best = null;
            for (String special : tok.specials().keySet()) {
                if (!special.isEmpty() && tail.startsWith(special) && (best == null || special.length() > best.length())) {
                    best = special;
                }
            }
            if (best != null) {
                stops.add(best);
            }
        }
        if (!eosToken.isEmpty()) {
            stops.add(eosToken);
        }
        return new ArrayList<>(stops);
    }

    // --- files ---------------------------------------------------------------------------------------------------

    private static JsonNode readJson(Path file) {
        String text = BoundedFiles.readUtf8(file, MAX_FILE_BYTES, "chat template config");
        try {
            return JsonFiles.MAPPER.readTree(text);
        } catch (IOException e) {
            throw new Mm1Exception(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** {@code chat_template}: a string, or [{name, template}…] of which "default" (HF), else null when absent. */
    private static String templateField(Path file, JsonNode root) {
        JsonNode t = root == null ? null : root.get("chat_template");
        if (t == null || t.isNull()) {
            return null;
        }
        if (t.isTextual()) {
            return t.asText();
        }
        if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText(null)) && named.path("template").isTextual()) {
                    return named.path("template").asText();
                }
            }
            throw new Mm1Exception(file + ": chat_template is a list without a template named \"default\"");
        }
        throw new Mm1Exception(file + ": chat_template must be a string or a list of {name, template}, got "
                + t.getNodeType().toString().toLowerCase());
    }

    /** {@code bos_token}/{@code eos_token} of tokenizer_config.json (a string or {"content": …}), else mm1j's. */
    private static String tokenText(JsonNode cfg, String field, Tokenizer tok, String fallback) {
        JsonNode n = cfg == null ? null : cfg.get(field);
        if (n != null && n.isTextual()) {
            return n.asText();
        }
        if (n != null && n.path("content").isTextual()) {
            return n.path("content").asText();
        }
        return tok == null || tok.specialId(fallback) >= 0 ? fallback : "";
    }
}
