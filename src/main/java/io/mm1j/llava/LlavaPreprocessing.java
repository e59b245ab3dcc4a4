package io.mm1j.llava;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import io.mm1j.vision.ImagePreprocessor;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A folder's {@code preprocessor_config.json} (HF {@code CLIPImageProcessor} / {@code LlavaNextImageProcessor}):
 * shortest-edge resize with PIL bicubic, center crop, rescale, mean/std. Only what changes the pixels is kept; an
 * option mm1j cannot honour (another resample filter, LLaVA's pad-to-square) is refused with the key named. A
 * folder without the file gets CLIP's defaults at the tower's resolution, as LLaVA-1.5 was trained.
 *
 * @param shortestEdge {@code size.shortest_edge} (or the smaller of {@code size.height/width})
 * @param cropHeight   {@code crop_size.height}
 * @param cropWidth    {@code crop_size.width}
 * @param rescale      {@code rescale_factor} (1 when {@code do_rescale} is false)
 * @param mean         {@code image_mean} (0 when {@code do_normalize} is false)
 * @param std          {@code image_std} (1 when {@code do_normalize} is false)
 */
public record LlavaPreprocessing(int shortestEdge, int cropHeight, int cropWidth, double rescale, double[] mean,
                                 double[] std) {
    public static final String FILE = "preprocessor_config.json";

    /** The preprocessor of {@code dir}, checked against the vision tower's resolution. */
    public static LlavaPreprocessing read(Path dir, LlavaConfig c) {
        Path file = dir.resolve(FILE);
        int s = c.vision().imageSize();
        if (!Files.isRegularFile(file)) {
            return new LlavaPreprocessing(s, s, s, 1 / 255.0, ImagePreprocessor.CLIP_MEAN, ImagePreprocessor.CLIP_STD);
        }
        JsonNode p = LlavaConfig.readJson(file);
        int resample = p.path("resample").asInt(3);
        if (resample != 3) {
            throw new Mm1Exception(file + ": resample " + resample + " is not supported (mm1j resizes with PIL "
                    + "bicubic, 3)");
        }
        if (!p.path("do_resize").asBoolean(true) || !p.path("do_center_crop").asBoolean(true)) {
            throw new Mm1Exception(file + ": do_resize and do_center_crop must be true (mm1j always resizes and crops "
                    + "to the tower's resolution)");
        }
        if (p.path("do_pad").asBoolean(false) && c.kind() == LlavaConfig.Kind.LLAVA) {
            throw new Mm1Exception(file + ": do_pad (pad to square) is not supported");
        }
        JsonNode size = p.path("size");
        int shortest = size.isInt() ? size.intValue() : size.has("shortest_edge") ? size.path("shortest_edge").asInt()
                : Math.min(size.path("height").asInt(0), size.path("width").asInt(0));
        JsonNode crop = p.path("crop_size");
        int ch = crop.isInt() ? crop.intValue() : crop.path("height").asInt(s);
        int cw = crop.isInt() ? crop.intValue() : crop.path("width").asInt(s);
        if (ch != s || cw != s) {
            throw new Mm1Exception(file + ": crop_size " + ch + "x" + cw + " does not match vision_config.image_size "
                    + s + " of config.json");
        }
        if (shortest < s || c.kind() == LlavaConfig.Kind.LLAVA_NEXT && shortest != s) {
            throw new Mm1Exception(file + ": size.shortest_edge " + shortest + " must be "
                    + (c.kind() == LlavaConfig.Kind.LLAVA_NEXT ? "" : "at least ") + "the crop size " + s);
        }
        JsonNode pins = p.get("image_grid_pinpoints");
        if (c.kind() == LlavaConfig.Kind.LLAVA_NEXT && pins != null && pins.isArray()) {
            boolean same = pins.size() == c.gridPinpoints().size();
            for (int i = 0; same && i < pins.size(); i++) {
                same = pins.get(i).path(0).asInt() == c.gridPinpoints().get(i)[0]
                        && pins.get(i).path(1).asInt() == c.gridPinpoints().get(i)[1];
            }
            if (!same) { // the processor would tile by one list and the model unpad by the other
                throw new Mm1Exception(file + ": image_grid_pinpoints " + pins + " differ from config.json's");
            }
        }
        double rescale = p.path("do_rescale").asBoolean(true) ? p.path("rescale_factor").asDouble(1 / 255.0) : 1;
        boolean normalize = p.path("do_normalize").asBoolean(true);
        double[] mean = normalize ? triple(p, file, "image_mean", ImagePreprocessor.CLIP_MEAN) : new double[3];
        double[] std = normalize ? triple(p, file, "image_std", ImagePreprocessor.CLIP_STD) : new double[] {1, 1, 1};
        return new LlavaPreprocessing(shortest, ch, cw, rescale, mean, std);
    }

    private static double[] triple(JsonNode p, Path file, String key, double[] fallback) {
        JsonNode v = p.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (v.isNumber()) {
            return new double[] {v.asDouble(), v.asDouble(), v.asDouble()};
        }
        if (!v.isArray() || v.size() != 3 || !v.get(0).isNumber() || !v.get(1).isNumber() || !v.get(2).isNumber()) {
            throw new Mm1Exception(file + ": " + key + " must be three numbers, got " + v);
        }
        double[] out = {v.get(0).asDouble(), v.get(1).asDouble(), v.get(2).asDouble()};
        if (key.equals("image_std") && (out[0] <= 0 || out[1] <= 0 || out[2] <= 0)) {
            throw new Mm1Exception(file + ": image_std must be positive, got " + v);
        }
        return out;
    }

    /** An {@link ImagePreprocessor} with this normalisation. */
    public ImagePreprocessor preprocessor(NDManager manager) {
        return new ImagePreprocessor(manager, cropHeight, rescale, mean, std);
    }
}
