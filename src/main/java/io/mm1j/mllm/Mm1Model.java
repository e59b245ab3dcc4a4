package io.mm1j.mllm;

import io.mm1j.io.AtomicFiles;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mm1j.config.Mm1Config;
import io.mm1j.config.Presets;
import io.mm1j.connector.Connectors;
import io.mm1j.connector.VlConnector;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.HfLlama;
import io.mm1j.nn.BlockScope;
import io.mm1j.nn.ParamStore;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tensor.WeightFiles;
import io.mm1j.vision.VisionTransformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The MM1 model (MM1 §3, MM1_SPEC.md §1): image encoder → VL connector → k embeddings per {@code <image>} slot
 * spliced into the decoder's input sequence → decoder LLM. A text-only model (e.g. a Hugging Face Llama folder) is
 * the same class without encoder and connector.
 *
 * <p>All parameters live in one {@link ParamStore}: the decoder under HF Llama names ({@code model.*},
 * {@code lm_head.weight}), the encoder under HF CLIPVisionModel names ({@code vision_model.*}) and the connector
 * under {@code connector.*}, so one safetensors file holds the whole model and each part loads in HF tools.
 * Components are frozen by name prefix ({@link #freeze}).
 */
public final class Mm1Model implements AutoCloseable {
    /** Components that can be frozen individually. */
    public enum Component {
        VISION(VisionTransformer.PREFIX), CONNECTOR(VlConnector.PREFIX), LLM("model."), LM_HEAD(Decoder.LM_HEAD);

        final String prefix;

        Component(String prefix) {
            this.prefix = prefix;
        }

        /** The parameter-name prefix of this component. */
        public String prefix() {
            return prefix;
        }
    }

    private final Mm1Config config;
    private final ParamStore params;
    private final Decoder decoder;
    private final VisionTransformer vision;
    private final VlConnector connector;
    /** A foreign model family's own image handling (LLaVA), or null for MM1's ({@link #mm1Images}). */
    private final ImagePipeline pipeline;
    /** MM1's image pipeline, built on first use. */
    private ImagePipeline mm1Images;
    /** The folder's fixed {@code <image>} id (LLaVA's image_token_index), or -1: the tokenizer's {@code <image>}. */
    private final int fixedImageTokenId;

    private Mm1Model(Mm1Config config, ParamStore params, Decoder decoder, VisionTransformer vision,
                     VlConnector connector) {
        this(config, params, decoder, vision, connector, null, -1);
    }

    private Mm1Model(Mm1Config config, ParamStore params, Decoder decoder, VisionTransformer vision,
                     VlConnector connector, ImagePipeline pipeline, int fixedImageTokenId) {
        this.config = config;
        this.params = params;
        this.decoder = decoder;
        this.vision = vision;
        this.connector = connector;
        this.pipeline = pipeline;
        this.fixedImageTokenId = fixedImageTokenId;
    }

    /**
     * A model of a foreign family (LLaVA, {@link io.mm1j.llava.Llava}) assembled from loaded parts: its own image
     * pipeline (preprocessing, tokens per picture, encoding) and its fixed {@code <image>} id; its prompts start
     * with what the tokenizer's post-processor adds (see {@link #promptIds}).
     */
    public static Mm1Model foreign(Mm1Config config, ParamStore params, Decoder decoder, VisionTransformer vision,
                                   VlConnector connector, ImagePipeline images, int imageTokenId) {
        return new Mm1Model(config, params, decoder, vision, connector, images, imageTokenId);
    }

    /** Random initialisation of every component. */
    public static Mm1Model init(Mm1Config c, NDManager manager, DataType dtype) {
        ParamStore p = new ParamStore(manager, dtype);
        Decoder d = Decoder.init(c.llm(), p);
        VisionTransformer v = c.isMultimodal() ? VisionTransformer.init(c.vision(), p) : null;
        VlConnector k = c.isMultimodal() ? Connectors.init(c.connector(), c.vision(), c.llm().hiddenSize(), p) : null;
        return new Mm1Model(c, p, d, v, k);
    }

    /** A text-only model around an existing decoder (closing it closes the decoder). */
    public static Mm1Model textOnly(Decoder d) {
        Mm1Config c = new Mm1Config("decoder", "text-only model", d.config(), null, null, 0);
        return new Mm1Model(c, d.params(), d, null, null);
    }

    /**
     * Loads a model folder: an mm1j folder ({@code config.json} holding an mm1j config with an "llm" section) or a
     * Hugging Face Llama-family folder (text only).
     */
    public static Mm1Model load(Path dir, NDManager manager, DataType dtype) {
        Path cfgFile = dir.resolve("config.json");
        if (!Files.isRegularFile(cfgFile)) {
            throw new Mm1Exception(dir + ": not a model folder (config.json not found)");
        }
        if (HfExport.isExport(dir)) {
            return HfExport.load(dir, manager, dtype);
        }
        if (io.mm1j.llava.LlavaConfig.isLlava(cfgFile)) {
            return io.mm1j.llava.Llava.load(dir, manager, dtype);
        }
        if (!isMm1jConfig(cfgFile)) {
            Decoder d = HfLlama.load(dir, manager, dtype);
            Mm1Config c = new Mm1Config(dir.getFileName().toString(), "Hugging Face model " + dir, d.config(), null,
                    null, 0);
            return new Mm1Model(c, d.params(), d, null, null);
        }
        return assemble(Presets.read(cfgFile), dir, dir, dir, manager, dtype);
    }

    /** The config of the model folder {@link #load} would load, read without its weights. */
    public static Mm1Config readConfig(Path dir) {
        Path cfgFile = dir.resolve("config.json");
        if (!Files.isRegularFile(cfgFile)) {
            throw new Mm1Exception(dir + ": not a model folder (config.json not found)");
        }
        if (HfExport.isExport(dir)) {
            return HfExport.config(dir);
        }
        if (io.mm1j.llava.LlavaConfig.isLlava(cfgFile)) {
            return io.mm1j.llava.LlavaConfig.read(cfgFile).mm1Config(dir.getFileName().toString(), "LLaVA model " + dir);
        }
        if (!isMm1jConfig(cfgFile)) {
            return new Mm1Config(dir.getFileName().toString(), "Hugging Face model " + dir, HfLlama.readConfig(cfgFile),
                    null, null, 0);
        }
        return Presets.read(cfgFile);
    }

    /**
     * Builds a model of config {@code c} from the weights of three folders (the same one for an mm1j folder; the
     * LLM, vision tower and connector folders of a {@link HfExport}); every tensor of each must be used.
     */
    static Mm1Model assemble(Mm1Config c, Path llmDir, Path visionDir, Path connectorDir, NDManager manager,
                             DataType dtype) {
        ParamStore p = new ParamStore(manager, dtype);
        List<WeightFiles> open = new java.util.ArrayList<>();
        try {
            WeightFiles lw = WeightFiles.open(llmDir);
            open.add(lw);
            Decoder d = HfLlama.load(lw, c.llm(), p);
            VisionTransformer v = null;
            VlConnector k = null;
            WeightFiles vw = lw;
            WeightFiles kw = lw;
            if (c.isMultimodal()) {
                if (!visionDir.equals(llmDir)) {
                    vw = WeightFiles.open(visionDir);
                    open.add(vw);
                }
                if (connectorDir.equals(llmDir)) {
                    kw = lw;
                } else if (connectorDir.equals(visionDir)) {
                    kw = vw;
                } else {
                    kw = WeightFiles.open(connectorDir);
                    open.add(kw);
                }
                v = VisionTransformer.load(vw, visionDir, c.vision(), p);
                k = Connectors.load(kw, c.connector(), c.vision(), c.llm().hiddenSize(), p);
            }
            for (int i = 0; i < open.size(); i++) {
                List<String> unused = open.get(i).unused();
                unused.remove(Decoder.LM_HEAD);
                unused.removeIf(n -> n.endsWith("position_ids")); // HF CLIP folders may keep the buffer
                if (!unused.isEmpty()) {
                    Path where = i == 0 ? llmDir : open.get(i) == vw ? visionDir : connectorDir;
                    throw new Mm1Exception(where + ": unexpected tensors for this config, e.g. '" + unused.get(0)
                            + "' (" + unused.size() + " in all)");
                }
            }
            return new Mm1Model(c, p, d, v, k);
        } catch (RuntimeException e) {
            p.close();
            throw e;
        } finally {
            open.forEach(WeightFiles::close);
        }
    }

    /**
     * The model folder a {@code --model} argument names (DESIGN.md "Run folders"): a model folder as is; a run folder
     * gives its {@code model/}, or, while training has not finished, its newest checkpoint.
     */
    public static Path resolveFolder(Path dir) {
        if (!Files.exists(dir)) {
            throw new Mm1Exception("model folder not found: " + dir);
        }
        if (!Files.isDirectory(dir)) {
            throw new Mm1Exception(dir + ": not a model folder (a file)");
        }
        if (Files.isRegularFile(dir.resolve("config.json"))) {
            return dir;
        }
        if (Files.isRegularFile(dir.resolve("model/config.json"))) {
            return dir.resolve("model");
        }
        Path ckpts = dir.resolve("checkpoints");
        if (Files.isDirectory(ckpts)) {
            try (var s = Files.list(ckpts)) {
                Path newest = s.filter(p -> p.getFileName().toString().matches("step-\\d+"))
                        .filter(p -> Files.isRegularFile(p.resolve("config.json")))
                        .max(java.util.Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString()
                                .substring(5)))).orElse(null);
                if (newest != null) {
                    return newest;
                }
            } catch (IOException e) {
                throw new Mm1Exception(ckpts + ": cannot list: " + e.getMessage(), e);
            }
        }
        throw new Mm1Exception(dir + ": not a model folder (config.json not found) nor a run folder with model/ or "
                + "checkpoints/");
    }

    private static boolean isMm1jConfig(Path cfgFile) {
        try {
            JsonNode n = new ObjectMapper().readTree(cfgFile.toFile());
            return n != null && n.has("llm");
        } catch (IOException e) {
            throw new Mm1Exception(cfgFile + ": not valid JSON: " + e.getMessage());
        }
    }

    /**
     * Writes {@code config.json} (mm1j) and {@code model.safetensors} (all components) atomically; a model loaded
     * from a LLaVA folder is written as a LLaVA folder ({@link io.mm1j.llava.LlavaExport#save}), since an mm1j
     * config cannot say its image handling.
     */
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Mm1Exception(dir + ": cannot create folder: " + e.getMessage());
        }
        if (io.mm1j.llava.Llava.images(this) != null) {
            io.mm1j.llava.LlavaExport.save(this, dir);
            return;
        }
        SafeTensorsWriter out = new SafeTensorsWriter().metadata("format", "pt").metadata("mm1j.name", config.name());
        HfLlama.tensors(decoder).forEach(out::add);
        ParamStore.LinearAdapter adapter = params.adapter(); // an adapter's tensors are saved on their own
        params.all().forEach((name, a) -> {
            if (!Decoder.isDecoderTensor(name) && (adapter == null || !adapter.owns(name))) {
                float[] v = a.toType(DataType.FLOAT32, false).toFloatArray();
                out.add(SafeTensorsWriter.Tensor.f32(name, a.getShape().getShape(), v));
            }
        });
        out.write(dir.resolve("model.safetensors"));
        AtomicFiles.writeString(dir.resolve("config.json"), Presets.toJson(config));
    }

    /** Freezes a component: its parameters get no gradient and no optimizer update. */
    public void freeze(Component c) {
        params.freeze(c.prefix);
    }

    /**
     * The same model (shared parameters) with high-resolution tiling switched on or off (MM1 §3.4): {@code hr} null
     * turns it off; with {@code crop} ≠ the encoder's resolution the position embeddings are bicubically
     * interpolated to the crop's patch grid once, as MM1 interpolates them to 672 px, and then belong to the model
     * (saved, trained); so is the C-Abstractor's position embedding of the patch grid, and the mlp connector's k
     * follows the patch count ({@link Connectors#regrid}). Use the returned model; this one must not be used
     * afterwards.
     */
    public Mm1Model withHighRes(io.mm1j.config.HighResConfig hr, int crop) {
        requireVision();
        io.mm1j.config.VisionConfig v = config.vision();
        if (crop != v.imageSize()) {
            io.mm1j.config.VisionConfig nv = new io.mm1j.config.VisionConfig(crop, v.patchSize(), v.width(), v.layers(),
                    v.heads(), v.mlpDim(), v.activation(), v.layerNormEps(), v.featureLayer());
            try (NDScope scope = new NDScope()) {
                int g = nv.gridSize();
                NDArray pos = vision.positions(g, g); // (1 + g·g, D), bicubic from the trained grid
                NDArray copy = pos.duplicate();
                NDScope.unregister(copy);
                params.put(VisionTransformer.POS, copy);
                scope.suppressNotUsedWarning();
            }
            VlConnector k = Connectors.regrid(config.connector(), v, nv, config.llm().hiddenSize(), params);
            Mm1Config c = config.withHighRes(nv, hr).withConnector(Connectors.forGrid(config.connector(), nv));
            return new Mm1Model(c, params, decoder, new VisionTransformer(nv, params), k);
        }
        return new Mm1Model(config.withHighRes(v, hr), params, decoder, new VisionTransformer(v, params), connector);
    }

    /** Encoder passes per picture: the high-resolution sub-images and overview, or 1. */
    public int imagesPerPicture() {
        return config.highRes() == null ? 1 : config.highRes().imagesPerPicture();
    }

    /**
     * Pictures as the encoder's input: (N·c, 3, S, S) with c = {@link #imagesPerPicture()} (each picture's
     * sub-images in row-major order, then its overview: {@link io.mm1j.vision.HighResSplitter}) at the encoder's
     * resolution S. The one preprocessing of training data, generation and evaluation.
     */
    public NDArray preprocess(NDManager m, List<io.mm1j.vision.RgbImage> images) {
        requireVision();
        int s = config.vision().imageSize();
        io.mm1j.vision.ImagePreprocessor pre = new io.mm1j.vision.ImagePreprocessor(m, s);
        if (config.highRes() == null) {
            return pre.batch(images);
        }
        io.mm1j.config.HighResConfig h = config.highRes();
        io.mm1j.vision.HighResSplitter split = new io.mm1j.vision.HighResSplitter(h.rows(), h.cols(), s, h.overview());
        ai.djl.ndarray.NDList all = new ai.djl.ndarray.NDList();
        for (io.mm1j.vision.RgbImage img : images) {
            all.add(split.split(pre, img));
        }
        return ai.djl.ndarray.NDArrays.concat(all, 0); // (N·c, 3, S, S)
    }

    /**
     * Image tokens for a batch of preprocessed images.
     *
     * @param pixels (N·c, 3, H, W) normalised pixels, c = {@link #imagesPerPicture()} per picture
     * @return (N, c·k, D_llm): a picture's sub-images' tokens in order
     */
    public NDArray encodeImages(NDArray pixels) {
        requireVision();
        return perPicture(encodeImagesInGroups(pixels, vision.inferenceGroup(pixels)));
    }

    /**
     * The connector's tokens of sub-images grouped by picture: (N·c, k, D) → (N, c·k, D), c =
     * {@link #imagesPerPicture()} (a no-op without high-resolution tiling).
     */
    public NDArray perPicture(NDArray tokens) {
        int c = imagesPerPicture();
        if (c == 1) {
            return tokens;
        }
        Shape s = tokens.getShape();
        if (s.get(0) % c != 0) {
            throw new Mm1Exception("high-res model: " + s.get(0) + " sub-images is not a multiple of " + c
                    + " per picture");
        }
        return tokens.reshape(s.get(0) / c, c * s.get(1), s.get(2)); // (N, c·k, D)
    }

    /**
     * The encoder and connector over sub-images (no grouping by picture): without gradient recording, groups of
     * {@code group} images go through encoder and connector one after another; under recording all at once.
     *
     * @return (N·c, k, D)
     */
    public NDArray encodeImagesInGroups(NDArray pixels, int group) {
        requireVision();
        if (pixels.getDataType() != params.dtype()) {
            pixels = pixels.toType(params.dtype(), false); // preprocessing gives float32; a float64 model needs f64
        }
        return inGroups(pixels, group, this::encodeGroup);
    }

    private NDArray encodeGroup(NDArray pixels) {
        if (pipeline != null) { // a foreign family's own features (LLaVA: feature layer, CLS per its strategy)
            return pipeline.encodeCrops(pixels);
        }
        return encode(vision, connector, pixels);
    }

    /**
     * {@code perGroup} over {@code pixels}: under gradient recording all at once; in inference groups of
     * {@code group} images one after another (exact: neither encoder nor connector mixes images), so a connector
     * working on a large grid (C-Abstractor on 672 px tiles: ~0.4 GB per image) never holds the whole batch's
     * intermediates. Benchmarks call it too, so they measure the path the model runs.
     *
     * @return (N, k, D_llm)
     */
    public static NDArray inGroups(NDArray pixels, int group, java.util.function.UnaryOperator<NDArray> perGroup) {
        long n = pixels.getShape().get(0);
        if (BlockScope.recording() || n <= group) {
            return perGroup.apply(pixels);
        }
        ai.djl.ndarray.NDList parts = new ai.djl.ndarray.NDList();
        for (long i = 0; i < n; i += group) {
            NDArray part = pixels.get(new ai.djl.ndarray.index.NDIndex("{}:{}", i, Math.min(n, i + group)));
            parts.add(BlockScope.run(() -> perGroup.apply(part)));
        }
        NDArray tokens = ai.djl.ndarray.NDArrays.concat(parts, 0);
        parts.close();
        return tokens;
    }

    /** MM1's image tokens: encoder patch tokens through the connector, (N, 3, H, W) → (N, k, D_llm). */
    public static NDArray encode(VisionTransformer vision, VlConnector connector, NDArray pixels) {
        VisionTransformer.Output encoded = vision.forward(pixels);
        NDArray tokens = connector.forward(encoded.patchTokens()); // (N, P, Dv) → (N, k, D)
        if (!BlockScope.recording()) { // inference frees as it goes: only the image tokens stay
            encoded.patchTokens().close();
            encoded.cls().close();
        }
        return tokens;
    }

    /**
     * Decoder input embeddings: token embeddings with each image's k tokens at its placeholder run.
     *
     * @param ids           (B, T) int64 with k {@code imageTokenId} positions per image
     * @param pixels        (N, 3, H, W) or null when the batch has no images
     * @param imageTokenId  the tokenizer's {@code <image>} id
     */
    public NDArray inputEmbeddings(NDArray ids, NDArray pixels, int imageTokenId) {
        return spliceImages(ids, pixels == null ? null : encodeImages(pixels), imageTokenId);
    }

    /**
     * Token embeddings with already encoded image tokens spliced in at the placeholder runs (the step after
     * {@link #encodeImages}; activation checkpointing calls the two separately).
     *
     * @param imageTokens (N, k, D) in slot order, or null when the batch has no images
     */
    public NDArray spliceImages(NDArray ids, NDArray imageTokens, int imageTokenId) {
        NDArray text = decoder.embed(ids); // (B, T, D)
        int images = imageTokens == null ? 0 : Math.toIntExact(imageTokens.getShape().get(0));
        long[] flat = ids.toLongArray();
        Shape s = ids.getShape();
        int k = imageTokens();
        int maxPerRow = config.maxImagesPerSequence() > 0 ? config.maxImagesPerSequence() : Integer.MAX_VALUE;
        long[] slots = ImageSplicer.slots(flat, Math.toIntExact(s.get(0)), Math.toIntExact(s.get(1)), imageTokenId,
                images, Math.max(k, 1), maxPerRow);
        if (images == 0) {
            return text;
        }
        return ImageSplicer.splice(text, imageTokens, slots);
    }

    /**
     * Decoder input embeddings for prompts built through {@link #imagePipeline()}: token embeddings with each
     * picture's tokens at its run of {@code imageTokenId} positions (runs in reading order, one per picture, each as
     * long as {@link ImagePipeline.Prepared#tokens()}).
     *
     * @param ids (B, T) int64
     */
    public NDArray inputEmbeddings(NDArray ids, List<ImagePipeline.Prepared> images, int imageTokenId) {
        if (images.isEmpty()) {
            return decoder.embed(ids);
        }
        int[] counts = images.stream().mapToInt(ImagePipeline.Prepared::tokens).toArray();
        return spliceImages(ids, imagePipeline().encode(images), counts, imageTokenId);
    }

    /**
     * Token embeddings with already encoded pictures at their runs.
     *
     * @param ids      (B, T) int64
     * @param features (Σ counts, D) the pictures' tokens, concatenated in slot order
     * @param counts   tokens per picture, in slot order
     */
    public NDArray spliceImages(NDArray ids, NDArray features, int[] counts, int imageTokenId) {
        NDArray text = decoder.embed(ids); // (B, T, D)
        if (counts.length == 0) {
            return text;
        }
        Shape s = ids.getShape();
        long[] slots = ImageSplicer.slots(ids.toLongArray(), Math.toIntExact(s.get(0)), Math.toIntExact(s.get(1)),
                imageTokenId, counts);
        return ImageSplicer.splice(text, features.expandDims(0), slots); // (B, T, D)
    }

    /** How this model turns pictures into tokens (MM1: one crop, k connector tokens each). */
    public ImagePipeline imagePipeline() {
        requireVision();
        if (pipeline != null) {
            return pipeline;
        }
        if (mm1Images == null) {
            mm1Images = new Mm1Images(this);
        }
        return mm1Images;
    }

    /**
     * The {@code <image>} id prompts use: the folder's own (LLaVA's image_token_index; the tokenizer must agree),
     * else the tokenizer's {@code <image>}, else mm1j's reserved id.
     */
    public int imageTokenId(io.mm1j.tokenizer.Tokenizer tok) {
        int fromTokenizer = tok.specialId(io.mm1j.tokenizer.SpecialTokens.IMAGE);
        if (fixedImageTokenId >= 0) {
            if (fromTokenizer >= 0 && fromTokenizer != fixedImageTokenId) {
                throw new Mm1Exception(tok.file() + ": token <image> has id " + fromTokenizer + " but the model's "
                        + "image_token_index is " + fixedImageTokenId);
            }
            return fixedImageTokenId;
        }
        return fromTokenizer >= 0 ? fromTokenizer : io.mm1j.tokenizer.SpecialTokens.IMAGE_ID;
    }

    /**
     * Whether prompts are tokenised the way the folder's own processor does (a foreign family such as LLaVA): the
     * whole text at once, {@code <image>} as the tokenizer's added token, BOS as its post-processor adds it. mm1j
     * folders put the config's BOS first and tokenise around the slots ({@link PromptBuilder}).
     */
    public boolean usesTokenizerSpecials() {
        return fixedImageTokenId >= 0;
    }

    /**
     * Prompt ids the way {@link #usesTokenizerSpecials()} describes (HF's {@code processor(text, images)}): the
     * tokenizer's special tokens around {@code text} (with {@code addSpecials}), and the i-th {@code <image>}
     * expanded to {@code counts[i]} positions.
     */
    public long[] promptIds(io.mm1j.tokenizer.Tokenizer tok, String text, int[] counts, boolean addSpecials) {
        long[] body = addSpecials ? tok.encodeWithSpecials(text) : tok.encode(text);
        if (!isMultimodal() && counts.length == 0) {
            return body; // no image encoder: no id is an image slot ('<image>' in the text is text)
        }
        int imageId = imageTokenId(tok);
        int slots = 0;
        long total = 0;
        for (long id : body) {
            slots += id == imageId ? 1 : 0;
        }
        if (slots != counts.length) {
            throw new Mm1Exception("prompt has " + slots + " <image> slot(s) but " + counts.length
                    + " image(s) were given");
        }
        for (int c : counts) {
            total += c;
        }
        long[] ids = new long[Math.toIntExact(body.length - slots + total)];
        int j = 0;
        int image = 0;
        for (long id : body) {
            j = id == imageId ? ImageSlots.fill(ids, j, counts[image++], id) : ImageSlots.fill(ids, j, 1, id);
        }
        return ids;
    }

    /** Full forward: logits (B, T, V) and the MoE auxiliary loss. */
    public Decoder.Output forward(NDArray ids, NDArray pixels, int imageTokenId) {
        return forward(ids, pixels, imageTokenId, null);
    }

    /**
     * Full forward over a padded batch.
     *
     * @param keep (B, T) 1 for real tokens, 0 for padding (left or right), or null
     */
    public Decoder.Output forward(NDArray ids, NDArray pixels, int imageTokenId, NDArray keep) {
        return decoder.forward(inputEmbeddings(ids, pixels, imageTokenId), keep, null, false);
    }

    /**
     * Forward over a packed training batch (DESIGN.md data path: packer → {@link io.mm1j.data.Batch} → here). Images
     * go to their {@code <image>} runs in row/position order; padding is masked and not routed to MoE experts; with
     * {@code maskBetweenDocuments} the samples packed into one row do not attend to each other. Arrays are created in
     * the caller's {@link NDScope}.
     *
     * @return logits (B, T, V) and the MoE auxiliary loss
     */
    public Decoder.Output forward(io.mm1j.data.Batch batch, boolean maskBetweenDocuments) {
        return forward(batch, maskBetweenDocuments, io.mm1j.tokenizer.SpecialTokens.IMAGE_ID);
    }

    /** The same for a tokenizer whose {@code <image>} is {@code imageTokenId} (e.g. one appended to an LLM's). */
    public Decoder.Output forward(io.mm1j.data.Batch batch, boolean maskBetweenDocuments, int imageTokenId) {
        BatchInputs in = inputs(batch, maskBetweenDocuments);
        NDArray embeds = inputEmbeddings(in.ids(), in.pixels(), imageTokenId);
        return decoder.forward(embeds, in.keep(), in.documents(), null, false);
    }

    /** The same forward up to the LM head's input ({@link Decoder#hidden}), for a training step's loss. */
    public Decoder.Hidden hidden(io.mm1j.data.Batch batch, boolean maskBetweenDocuments, int imageTokenId) {
        BatchInputs in = inputs(batch, maskBetweenDocuments);
        NDArray embeds = inputEmbeddings(in.ids(), in.pixels(), imageTokenId);
        return decoder.hidden(embeds, in.keep(), in.documents(), null);
    }

    /**
     * A packed batch as arrays: ids (B, T), pixels (N, 3, H, W) or null, keep (B, T) 1 for real tokens, and the
     * additive between-documents mask or null. Shared by {@link #forward(io.mm1j.data.Batch, boolean)} and the
     * checkpointed training path.
     */
    public record BatchInputs(NDArray ids, NDArray pixels, NDArray keep, NDArray documents) {}

    /** The arrays of a packed batch, created in the caller's {@link NDScope}. */
    public BatchInputs inputs(io.mm1j.data.Batch batch, boolean maskBetweenDocuments) {
        NDManager m = params.manager();
        Shape bt = new Shape(batch.batchSize(), batch.seqLen());
        NDArray ids = m.create(batch.tokens(), bt);
        NDArray pixels = null;
        if (!batch.images().isEmpty()) {
            requireVision();
            int size = config.vision().imageSize();
            pixels = m.create(batch.imagePixels(), new Shape((long) batch.images().size() * imagesPerPicture(), 3, size,
                    size)); // (N·c, 3, S, S)
        }
        float[] keep = new float[batch.tokens().length];
        for (int i = 0; i < keep.length; i++) {
            keep[i] = batch.segments()[i] >= 0 ? 1f : 0f;
        }
        NDArray keepArr = m.create(keep, bt).toType(params.dtype(), false);
        NDArray docs = maskBetweenDocuments ? io.mm1j.nn.Attention.documents(m.create(batch.segments(), bt),
                params.dtype()) : null;
        return new BatchInputs(ids, pixels, keepArr, docs);
    }

    private void requireVision() {
        if (vision == null) {
            throw new Mm1Exception("model '" + config.name() + "' is text-only (no image encoder); it cannot take "
                    + "images");
        }
    }

    public Mm1Config config() {
        return config;
    }

    public ParamStore params() {
        return params;
    }

    public Decoder decoder() {
        return decoder;
    }

    /** The image encoder, or null for a text-only model. */
    public VisionTransformer vision() {
        return vision;
    }

    /** The VL connector, or null for a text-only model. */
    public VlConnector connector() {
        return connector;
    }

    public boolean isMultimodal() {
        return vision != null;
    }

    /** Image tokens per picture: k, or c·k with high-resolution tiling (0 for a text-only model). */
    public int imageTokens() {
        return connector == null ? 0 : connector.imageTokens() * imagesPerPicture();
    }

    @Override
    public void close() {
        decoder.close(); // the CPU decode threads, then the one parameter store all components share
    }
}
