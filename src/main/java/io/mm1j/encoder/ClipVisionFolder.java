package io.mm1j.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.config.VisionConfig;
import io.mm1j.io.AtomicFiles;
import io.mm1j.io.OutputDir;
import io.mm1j.nn.ParamStore;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.vision.ImagePreprocessor;
import io.mm1j.vision.VisionTransformer;
import java.nio.file.Path;

/**
 * A trained encoder as a Hugging Face {@code CLIPVisionModel} folder, the format {@code model.vision.init} of
 * {@code mm1 pretrain} reads (and {@code CLIPVisionModel.from_pretrained} too):
 * <ul>
 *   <li>{@code config.json}: {@code CLIPVisionConfig} keys ({@code model_type: clip_vision_model}, {@code hidden_size},
 *       {@code intermediate_size}, {@code num_hidden_layers}, {@code num_attention_heads}, {@code image_size},
 *       {@code patch_size}, {@code hidden_act}, {@code layer_norm_eps}, …);</li>
 *   <li>{@code model.safetensors}: the {@code vision_model.*} tensors, float32, HF names and layouts
 *       ({@link VisionTransformer#expectedShapes});</li>
 *   <li>{@code preprocessor_config.json}: a {@code CLIPImageProcessor} with mm1j's resize, crop and CLIP mean/std.</li>
 * </ul>
 * Written through {@link OutputDir}: the folder appears complete or not at all.
 */
public final class ClipVisionFolder {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ClipVisionFolder() {}

    /** Writes the encoder of {@code params} (an existing folder is replaced: it is a run's own output). */
    public static void write(Path dir, VisionConfig c, ParamStore params, EncoderModel.Objective objective) {
        try (OutputDir out = OutputDir.create(dir, true, "encoder")) {
            Path d = out.staging();
            SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt")
                    .metadata("mm1j.objective", objective.json());
            for (String name : VisionTransformer.expectedShapes(c).keySet()) {
                NDArray a = params.get(name);
                w.add(SafeTensorsWriter.Tensor.f32(name, a.getShape().getShape(),
                        a.toType(DataType.FLOAT32, false).toFloatArray()));
            }
            w.write(d.resolve("model.safetensors"));
            AtomicFiles.writeString(d.resolve("config.json"), config(c).toPrettyString());
            AtomicFiles.writeString(d.resolve("preprocessor_config.json"), preprocessor(c.imageSize()).toPrettyString());
            out.commit();
        }
    }

    /** {@code CLIPVisionConfig} of an mm1j encoder config. */
    public static ObjectNode config(VisionConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add("CLIPVisionModel");
        o.put("model_type", "clip_vision_model");
        o.put("hidden_size", c.width());
        o.put("intermediate_size", c.mlpDim());
        o.put("num_hidden_layers", c.layers());
        o.put("num_attention_heads", c.heads());
        o.put("num_channels", 3);
        o.put("image_size", c.imageSize());
        o.put("patch_size", c.patchSize());
        o.put("hidden_act", c.activation());
        o.put("layer_norm_eps", c.layerNormEps());
        o.put("attention_dropout", 0.0);
        o.put("initializer_range", 0.02);
        o.put("initializer_factor", 1.0);
        o.put("torch_dtype", "float32");
        return o;
    }

    /** {@code CLIPImageProcessor}: shortest side to the encoder size (bicubic), centre crop, CLIP mean/std. */
    public static ObjectNode preprocessor(int size) {
        ObjectNode o = JSON.createObjectNode();
        o.put("image_processor_type", "CLIPImageProcessor");
        o.put("do_resize", true);
        o.putObject("size").put("shortest_edge", size);
        o.put("resample", 3); // PIL bicubic
        o.put("do_center_crop", true);
        o.putObject("crop_size").put("height", size).put("width", size);
        o.put("do_rescale", true);
        o.put("rescale_factor", 1 / 255.0);
        o.put("do_normalize", true);
        o.put("do_convert_rgb", true);
        var mean = o.putArray("image_mean");
        var std = o.putArray("image_std");
        for (int i = 0; i < 3; i++) {
            mean.add(ImagePreprocessor.CLIP_MEAN[i]);
            std.add(ImagePreprocessor.CLIP_STD[i]);
        }
        return o;
    }
}
