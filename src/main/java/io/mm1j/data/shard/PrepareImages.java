package io.mm1j.data.shard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
import io.mm1j.io.BoundedFiles;
import io.mm1j.vision.ImageIoLoader;
import io.mm1j.vision.ImagePreprocessor;
import io.mm1j.vision.ImageTooLargeException;
import io.mm1j.vision.RgbImage;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.TupleTag;

/**
 * Stage 2, per sample on any worker: reads each image's bytes, hashes them (SHA-256: the dedup key), decodes them
 * with the loader training uses (so a file refused here would have been refused there), applies the size and
 * aspect filters, and either keeps the input bytes (JPEG/PNG; other formats become PNG) or, with a model, writes the
 * encoder's input: cover-resize + centre crop to its resolution (PIL bicubic, {@link ImagePreprocessor}) as PNG, so
 * training reads exactly these pixels. Captions outside the length bounds are dropped.
 *
 * <p>A caption or conversation sample is left out when an image fails; a document loses that image and keeps its
 * text ({@code imagesDropped}), as {@link io.mm1j.data.InterleavedReader} does with missing images.
 */
final class PrepareImages extends DoFn<ShardItem, ShardItem> {
    static final TupleTag<ShardItem> ITEMS = new TupleTag<>() {};
    /** (image SHA-256, "key#index") for every image kept. */
    static final TupleTag<KV<String, String>> HASHES = new TupleTag<>() {};

    private final ShardFilters filters;
    /** The encoder input (height, width) with a model, 0 without. */
    private final int outH;
    private final int outW;
    private transient ImageIoLoader loader;

    PrepareImages(ShardFilters filters, int outH, int outW) {
        this.filters = filters;
        this.outH = outH;
        this.outW = outW;
    }

    @Setup
    public void setup() {
        loader = new ImageIoLoader();
        ImageIO.setUseCache(false);
    }

    /** Why an image failed, or the image as it will be written. */
    private record Outcome(ShardItem.Image image, String reason) {}

    @ProcessElement
    public void process(@Element ShardItem item, MultiOutputReceiver out) {
        ShardPipeline.countPrepared();
        ObjectNode json = item.jsonTree();
        boolean document = item.type().equals("interleaved");
        List<ShardItem.Image> kept = new ArrayList<>();
        int[] newIndex = new int[item.images().size()];
        for (int i = 0; i < item.images().size(); i++) {
            Outcome o = prepare(item.images().get(i));
            if (o.reason == null) {
                newIndex[i] = kept.size();
                kept.add(o.image);
                continue;
            }
            if (!document) {
                out.get(ShardStats.TAG).output(KV.of(ShardStats.SKIPPED + o.reason, 1L));
                return;
            }
            newIndex[i] = -1;
            out.get(ShardStats.TAG).output(KV.of(ShardStats.IMAGES_DROPPED + o.reason, 1L));
        }
        if (document && kept.size() < item.images().size()) {
            ArrayNode parts = JsonFiles.MAPPER.createArrayNode();
            for (JsonNode p : json.path("parts")) {
                if (!p.has("image")) {
                    parts.add(p);
                } else if (newIndex[p.get("image").asInt()] >= 0) {
                    parts.addObject().put("image", newIndex[p.get("image").asInt()]);
                }
            }
            if (parts.isEmpty()) {
                out.get(ShardStats.TAG).output(KV.of(ShardStats.SKIPPED + ShardFilters.EMPTY_DOCUMENT, 1L));
                return;
            }
            json.set("parts", parts);
        }
        if (item.type().equals("caption")) {
            ArrayNode caps = JsonFiles.MAPPER.createArrayNode();
            json.path("captions").forEach(c -> {
                if (filters.captionOk(c.asText())) {
                    caps.add(c.asText().strip());
                }
            });
            if (caps.isEmpty()) {
                out.get(ShardStats.TAG).output(KV.of(ShardStats.SKIPPED + ShardFilters.CAPTION_LENGTH, 1L));
                return;
            }
            json.set("captions", caps);
        }
        for (int i = 0; i < kept.size(); i++) {
            out.get(HASHES).output(KV.of(kept.get(i).sha256(), item.key() + "#" + i));
        }
        out.get(ITEMS).output(item.with(json.toString(), kept));
    }

    private Outcome prepare(ShardItem.Image im) {
        byte[] bytes = im.bytes() != null ? im.bytes()
                : BoundedFiles.readAllBytes(Path.of(im.path()), ImageIoLoader.DEFAULT_MAX_FILE_BYTES, "image file");
        RgbImage rgb;
        try {
            rgb = loader.decode(bytes, im.path() != null ? im.path() : im.source());
        } catch (ImageTooLargeException e) {
            return new Outcome(null, ShardFilters.TOO_LARGE);
        } catch (Mm1Exception e) {
            return new Outcome(null, ShardFilters.CORRUPT_IMAGE);
        }
        String refused = filters.refuse(rgb.width(), rgb.height());
        if (refused != null) {
            return new Outcome(null, refused);
        }
        String sha = sha256(bytes);
        if (outH > 0) {
            float[] levels = new ImagePreprocessor(null, outH).coverCropLevels(rgb, outH, outW); // (3, H, W)
            return new Outcome(new ShardItem.Image(im.source(), null, png(levels, outH, outW), "png", sha, outW, outH),
                    null);
        }
        String ext = isJpeg(bytes) ? "jpg" : isPng(bytes) ? "png" : null;
        if (ext == null) { // GIF, BMP: WebDataset readers take JPEG and PNG
            return new Outcome(new ShardItem.Image(im.source(), null, png(rgb), "png", sha, rgb.width(), rgb.height()),
                    null);
        }
        return new Outcome(new ShardItem.Image(im.source(), null, bytes, ext, sha, rgb.width(), rgb.height()), null);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is a required JDK algorithm", e);
        }
    }

    private static boolean isJpeg(byte[] b) {
        return b.length > 2 && (b[0] & 0xFF) == 0xFF && (b[1] & 0xFF) == 0xD8;
    }

    private static boolean isPng(byte[] b) {
        return b.length > 8 && (b[0] & 0xFF) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G';
    }

    /** 8-bit levels (3, H, W) as a PNG. */
    static byte[] png(float[] levels, int h, int w) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int plane = h * w;
        for (int p = 0; p < plane; p++) {
            int r = (int) levels[p];
            int g = (int) levels[plane + p];
            int b = (int) levels[2 * plane + p];
            img.setRGB(p % w, p / w, r << 16 | g << 8 | b);
        }
        return write(img);
    }

    private static byte[] png(RgbImage rgb) {
        BufferedImage img = new BufferedImage(rgb.width(), rgb.height(), BufferedImage.TYPE_INT_RGB);
        byte[] px = rgb.rgb();
        for (int p = 0; p < rgb.width() * rgb.height(); p++) {
            img.setRGB(p % rgb.width(), p / rgb.width(),
                    (px[3 * p] & 0xFF) << 16 | (px[3 * p + 1] & 0xFF) << 8 | px[3 * p + 2] & 0xFF);
        }
        return write(img);
    }

    private static byte[] write(BufferedImage img) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", bos);
        } catch (IOException e) {
            throw new UncheckedIOException("PNG encoding in memory failed", e);
        }
        return bos.toByteArray();
    }
}
