package io.mm1j.data.shard;

import io.mm1j.Mm1Exception;
import io.mm1j.data.CocoCaptionsReader;
import io.mm1j.data.ImageRef;
import io.mm1j.data.ImageStore;
import io.mm1j.data.InterleavedReader;
import io.mm1j.data.LlavaReader;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleReader;
import io.mm1j.data.ShardSample;
import io.mm1j.data.SkipReport;
import io.mm1j.data.TextReader;
import io.mm1j.data.WebDatasetReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.TupleTag;

/**
 * Stage 1: one input file (a COCO captions JSON, a JSONL of documents, a LLaVA JSON, a text file, one tar shard)
 * through the reader that {@code pretrain} and {@code data check} use, one {@link ShardItem} per sample. Images are
 * passed on as files or tar bytes, not decoded: decoding is stage 2's, spread over the workers. The reader's own
 * skips (missing image, corrupt JSON line, …) go out as {@code reader/<reason>} counts.
 */
final class ReadInput extends DoFn<KV<Integer, String>, ShardItem> {
    static final TupleTag<ShardItem> ITEMS = new TupleTag<>() {};

    private final String format;
    private final String images;
    private final int textChunk;

    /** @param images the image folder (or tar, for mmc4/OBELICS), or null */
    ReadInput(String format, String images, int textChunk) {
        this.format = format;
        this.images = images;
        this.textChunk = textChunk;
    }

    /** The key of sample {@code position} of input unit {@code unit}: sorts in input order, no dots (WebDataset). */
    static String key(int unit, long position) {
        return String.format(Locale.ROOT, "%05d_%09d", unit, position);
    }

    @ProcessElement
    public void process(@Element KV<Integer, String> unit, MultiOutputReceiver out) {
        SkipReport skips = SkipReport.lenient();
        Path file = Path.of(unit.getValue());
        ImageStore store = null;
        long n = 0;
        try {
            if ((format.equals("mmc4") || format.equals("obelics")) && images != null) {
                store = ImageStore.open(Path.of(images));
            }
            try (SampleReader r = open(file, store, skips)) {
                while (r.hasNext()) {
                    Sample s = Sample.Pretokenized.unwrap(r.next());
                    if (s instanceof Sample.Vqa) {
                        throw new Mm1Exception(file + ": VQA samples are not written to shards");
                    }
                    ShardSample.Body b = ShardSample.body(s);
                    List<ShardItem.Image> imgs = new ArrayList<>();
                    for (ImageRef ref : b.images()) {
                        imgs.add(ShardItem.Image.unread(ref.name(), ref.file() == null ? null : ref.file().toString(),
                                ref.bytes()));
                    }
                    out.get(ITEMS).output(new ShardItem(key(unit.getKey(), n++), b.type(), b.json().toString(), imgs));
                }
            }
        } finally {
            if (store != null) {
                store.close();
            }
        }
        out.get(ShardStats.TAG).output(KV.of(ShardStats.READ, n));
        skips.counts().forEach((reason, count) -> out.get(ShardStats.TAG).output(KV.of(ShardStats.READER + reason,
                count)));
    }

    private SampleReader open(Path file, ImageStore store, SkipReport skips) {
        Path imageDir = images == null ? null : Path.of(images);
        return switch (format) {
            case "coco" -> new CocoCaptionsReader(file, imageDir, skips);
            case "mmc4", "obelics" -> new InterleavedReader(file, store, skips);
            case "llava" -> new LlavaReader(file, imageDir, skips);
            case "text" -> new TextReader(file, textChunk, skips);
            case "wds" -> new WebDatasetReader(List.of(file), skips);
            default -> throw new Mm1Exception("--format: unsupported '" + format + "'");
        };
    }
}
