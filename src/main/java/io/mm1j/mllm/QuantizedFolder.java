package io.mm1j.mllm;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.mm1j.Mm1Exception;
import io.mm1j.llava.Llava;
import io.mm1j.llava.LlavaConfig;
import io.mm1j.llm.Decoder;
import io.mm1j.llm.Int8Matrix;
import io.mm1j.llm.Int8Weights;
import io.mm1j.tensor.SafeTensors;
import io.mm1j.tensor.SafeTensorsWriter;
import io.mm1j.tensor.WeightFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Writes the int8 version of a model folder ({@code mm1 quantize}): the decoder's weight matrices become int8 with
 * float32 scales ({@link Int8Weights} describes the tensors), every other tensor (norms, vision tower, connector) is
 * copied with its dtype and bytes unchanged, under the same names, into one {@code model.safetensors}; the config,
 * tokenizer and every other non-weight file are copied as they are, except test-parity artifacts computed from the
 * float weights ({@link #FLOAT_REFERENCES}), which the int8 weights no longer reproduce. Any folder mm1j loads works
 * (mm1j, Hugging Face Llama, LLaVA), and the result loads the same way.
 */
public final class QuantizedFolder {
    /** Other weight formats are not copied: the new safetensors replaces them. */
    private static final List<String> WEIGHT_SUFFIXES = List.of(".safetensors", ".safetensors.index.json", ".bin",
            ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".onnx");
    /**
     * Files that record what the float weights compute ({@code reference_logits.json}: logits of an independent
     * float64 forward pass, checked to ~1e-4). Int8 weights move logits by more than that, so a copy would be a
     * reference the folder fails; regenerating it from the int8 model with mm1j's own code would check nothing.
     * They are left out.
     */
    static final List<String> FLOAT_REFERENCES = List.of("reference_logits.json");

    /**
     * @param quantized matrices made int8
     * @param copied    tensors copied unchanged
     * @param bytesIn   tensor bytes read
     * @param bytesOut  tensor bytes written
     * @param files     non-weight files copied (relative paths)
     * @param leftOut   non-weight files not copied: references of the float weights (relative paths)
     */
    public record Summary(int quantized, int copied, long bytesIn, long bytesOut, List<String> files,
                          List<String> leftOut) {}

    private QuantizedFolder() {}

    /**
     * Quantises the model in {@code source} with {@code group} columns per scale and writes the new folder's files
     * into {@code target} (an empty folder, e.g. an {@code OutputDir}'s staging folder).
     */
    public static Summary write(Path source, Path target, int group, NDManager manager) {
        if (group < 1) {
            throw new Mm1Exception("--group-size must be >= 1, got " + group);
        }
        Int8Weights int8;
        boolean tied;
        try (Mm1Model m = Mm1Model.load(source, manager, DataType.FLOAT32)) { // validates every tensor
            Decoder d = m.decoder();
            if (d.int8Weights() != null) {
                throw new Mm1Exception(source + ": the model already holds int8 weights");
            }
            int8 = Int8Weights.quantize(d, group);
            tied = d.config().tieEmbeddings();
        }
        Path cfg = source.resolve("config.json");
        int quantized = 0;
        int copied = 0;
        long bytesIn = 0;
        try (WeightFiles w = WeightFiles.open(source)) {
            // our tensor name of each file key: LLaVA files prefix the language model's names
            UnaryOperator<String> ours = LlavaConfig.isLlava(cfg) ? Llava.Layout.of(w, source)::ourName : k -> k;
            SafeTensorsWriter out = new SafeTensorsWriter();
            for (String key : w.names()) {
                SafeTensors st = w.fileOf(key);
                SafeTensors.Entry e = st.entry(key);
                bytesIn += e.end() - e.begin();
                String name = ours.apply(key);
                Int8Matrix q = name == null ? null : int8.get(name);
                if (q != null) {
                    Int8Weights.tensors(key, q).forEach(out::add);
                    quantized++;
                } else if (!(tied && Decoder.LM_HEAD.equals(name))) { // a tied head's copy is not needed to load
                    out.add(new SafeTensorsWriter.Tensor(key, e.dtype(), e.shape(), st.raw(key)));
                    copied++;
                }
            }
            if (quantized != int8.all().size()) {
                throw new Mm1Exception(source + ": found " + quantized + " of the decoder's " + int8.all().size()
                        + " weight matrices under their file names; cannot write the int8 folder");
            }
            w.fileOf(w.names().iterator().next()).metadata().forEach(out::metadata);
            out.metadata(Int8Weights.GROUP_SIZE_KEY, Integer.toString(group));
            out.write(target.resolve(WeightFiles.SINGLE));
            List<String> leftOut = new ArrayList<>();
            List<String> files = copyOtherFiles(source, target, leftOut);
            return new Summary(quantized, copied, bytesIn, out.dataBytes(), files, leftOut);
        }
    }

    /**
     * Copies every file of {@code source} but weight files and {@link #FLOAT_REFERENCES} (subfolders included; links
     * followed to their files); the references are added to {@code leftOut}.
     */
    private static List<String> copyOtherFiles(Path source, Path target, List<String> leftOut) {
        List<String> copied = new ArrayList<>();
        try (Stream<Path> all = Files.walk(source)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                String rel = source.relativize(p).toString();
                String lower = rel.toLowerCase(Locale.ROOT);
                if (!Files.isRegularFile(p) || WEIGHT_SUFFIXES.stream().anyMatch(lower::endsWith)) {
                    continue;
                }
                if (FLOAT_REFERENCES.contains(p.getFileName().toString().toLowerCase(Locale.ROOT))) {
                    leftOut.add(rel);
                    continue;
                }
                Path dst = target.resolve(rel);
                Files.createDirectories(dst.getParent());
                Files.copy(p, dst);
                copied.add(rel);
            }
        } catch (IOException e) {
            throw new Mm1Exception(source + ": cannot copy the model folder's files: " + e.getMessage(), e);
        }
        return copied;
    }
}
