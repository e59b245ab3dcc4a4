package io.mm1j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.Mm1Exception;
import io.mm1j.mllm.ChatMessage;
import io.mm1j.mllm.ChatTemplate;
import io.mm1j.mllm.GenerationConfig;
import io.mm1j.mllm.Generator;
import io.mm1j.mllm.ImageEmbeddingCache;
import io.mm1j.mllm.Mm1Model;
import io.mm1j.mllm.Prompt;
import io.mm1j.mllm.PromptBuilder;
import io.mm1j.tokenizer.Tokenizer;
import io.mm1j.vision.RgbImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mm1 chat}: a conversation with a model through its chat template. One-shot when a prompt is given (the
 * streamed answer on stdout); otherwise reads messages line by line from stdin (a terminal or a pipe) with the
 * commands {@code /image PATH}, {@code /reset} and {@code /quit}, streaming each answer as it is generated.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Chat with a model folder through its chat template (tokenizer_config.json / "
                + "chat_template.json, else mm1j's). With PROMPT: answer once and exit. Without: interactive; each line "
                + "is a message; /image PATH attaches an image to the next message, /reset starts over, /quit ends.")
public final class ChatCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model folder (or a run folder).")
    Path model;

    @Option(names = "--system", description = "System message opening the conversation.")
    String system;

    @Parameters(arity = "0..1", paramLabel = "PROMPT", description = "One message to answer (then exit).")
    String prompt;

    @Mixin
    GenerationOptions gen;

    @Mixin
    DeviceOption device;

    private static final String HELP = "commands: /image PATH (attach to the next message), /reset, /quit";

    @Override
    public Integer call() throws IOException {
        gen.check();
        model = Mm1Model.resolveFolder(model);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (NDManager root = device.root((int) gen.seed);
             Tokenizer tok = Tokenizer.load(model.resolve("tokenizer.json"));
             Mm1Model mm = Mm1Model.load(model, root, DataType.FLOAT32)) {
            gen.quantization().apply(mm.decoder());
            Session s = new Session(mm, tok, ChatTemplate.forModel(model, tok), out);
            List<RgbImage> attached = new ArrayList<>(gen.loadImages());
            if (!attached.isEmpty() && !mm.isMultimodal()) {
                throw new Mm1Exception(model + ": text-only model; it cannot take images");
            }
            if (prompt != null) {
                s.turn(prompt, attached);
                return 0;
            }
            interactive(s, attached);
        }
        return 0;
    }

    private void interactive(Session s, List<RgbImage> attached) throws IOException {
        boolean terminal = System.console() != null;
        if (terminal) {
            System.err.println("mm1 chat: " + model + " (" + s.template.origin() + "); " + HELP);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        while (true) {
            if (terminal) {
                System.err.print("> ");
                System.err.flush();
            }
            String line = in.readLine();
            if (line == null) {
                return; // end of input
            }
            String text = line.strip();
            if (text.isEmpty()) {
                continue;
            }
            if (text.equals("/quit") || text.equals("/exit")) {
                return;
            }
            if (text.equals("/reset")) {
                s.history.clear();
                attached.clear();
                System.err.println("mm1 chat: conversation reset");
                continue;
            }
            if (text.equals("/image") || text.startsWith("/image ")) {
                String file = text.substring("/image".length()).strip();
                try {
                    if (file.isEmpty()) {
                        throw new Mm1Exception("/image needs a file: /image PATH");
                    }
                    if (!s.model.isMultimodal()) {
                        throw new Mm1Exception(model + ": text-only model; it cannot take images");
                    }
                    attached.addAll(gen.loadImages(List.of(Path.of(file))));
                    System.err.println("mm1 chat: attached " + file + " (" + attached.size() + " image(s) for the "
                            + "next message)");
                } catch (Mm1Exception | java.nio.file.InvalidPathException e) {
                    System.err.println("mm1: error: " + e.getMessage());
                }
                continue;
            }
            if (text.startsWith("/")) {
                System.err.println("mm1 chat: unknown command " + text.split("\\s+")[0] + "; " + HELP);
                continue;
            }
            try {
                s.turn(line, attached);
            } catch (Mm1Exception e) { // e.g. the conversation outgrew the context: say so and keep the session
                System.err.println("mm1: error: " + e.getMessage());
            }
            attached.clear();
        }
    }

    /** The conversation so far and what answers it. */
    private final class Session {
        final Mm1Model model;
        final ChatTemplate template;
        final PromptBuilder builder;
        final Generator generator;
        final PrintStream out;
        final List<ChatMessage> history = new ArrayList<>();

        Session(Mm1Model model, Tokenizer tok, ChatTemplate template, PrintStream out) {
            this.model = model;
            this.template = template;
            this.builder = new PromptBuilder(model, tok);
            this.generator = new Generator(model, tok, gen.path(), new ImageEmbeddingCache(32)); // turns resend images
            this.out = out;
        }

        /** One user message and the streamed answer; the history keeps both only when it succeeds. */
        void turn(String text, List<RgbImage> images) {
            List<ChatMessage> next = new ArrayList<>(history);
            if (next.isEmpty() && system != null) {
                next.add(ChatMessage.text("system", system));
            }
            next.add(ChatMessage.withImages("user", images, text));
            Prompt p = builder.fromChat(template, next, true);
            int maxPositions = model.config().llm().maxPositions();
            GenerationConfig cfg = gen.config(gen.fitToContext(p.length(), maxPositions)).toBuilder()
                    .stopsOf(template).build();
            Generator.Result r = generator.generate(p, cfg, (id, delta) -> {
                out.print(delta);
                return true;
            });
            out.println();
            next.add(ChatMessage.text("assistant", r.text()));
            history.clear();
            history.addAll(next);
        }
    }
}
