package io.mm1j.data.shard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.data.ImageRef;
import io.mm1j.data.Sample;
import io.mm1j.data.SampleEncoder;
import io.mm1j.data.ShardSample;
import io.mm1j.io.JsonFiles;
import io.mm1j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollectionView;

/**
 * Stage 4, per sample: applies the dedup decision (a side input: for each key, the indices of its images that an
 * earlier sample already holds), fills in the JSON's "images" list and, with a tokenizer, its "tokens": the ids of
 * the text pieces exactly as {@link SampleEncoder} asks for them (it is run with a recording text encoder), so that
 * {@code pretrain} with the same tokenizer can replay them.
 */
final class FinishSample extends DoFn<ShardItem, KV<String, ShardItem>> {
    /** A 1×1 PNG: stands in for images while the text pieces are recorded (their pixels are not needed). */
    private static final byte[] PIXEL = PrepareImages.png(new float[3], 1, 1);

    private final PCollectionView<Map<String, Iterable<Integer>>> duplicates;
    private final String tokenizerFile;
    private final String tokenizerSha256;
    private transient Tokenizer tokenizer;

    /** @param tokenizerFile a tokenizer.json, or null (text stays text) */
    FinishSample(PCollectionView<Map<String, Iterable<Integer>>> duplicates, String tokenizerFile,
                 String tokenizerSha256) {
        this.duplicates = duplicates;
        this.tokenizerFile = tokenizerFile;
        this.tokenizerSha256 = tokenizerSha256;
    }

    @Setup
    public void setup() {
        if (tokenizerFile != null) {
            tokenizer = Tokenizer.load(Path.of(tokenizerFile));
        }
    }

    @Teardown
    public void teardown() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }

    @ProcessElement
    public void process(@Element ShardItem item, ProcessContext c) {
        Iterable<Integer> dup = c.sideInput(duplicates).get(item.key());
        ObjectNode json = item.jsonTree();
        List<ShardItem.Image> images = item.images();
        if (dup != null) {
            Set<Integer> drop = new HashSet<>();
            dup.forEach(drop::add);
            if (!item.type().equals("interleaved")) {
                c.output(ShardStats.TAG, KV.of(ShardStats.SKIPPED + ShardFilters.DUPLICATE, 1L));
                return;
            }
            List<ShardItem.Image> kept = new ArrayList<>();
            ArrayNode parts = JsonFiles.MAPPER.createArrayNode();
            int[] newIndex = new int[images.size()];
            for (int i = 0; i < images.size(); i++) {
                newIndex[i] = drop.contains(i) ? -1 : kept.size();
                if (!drop.contains(i)) {
                    kept.add(images.get(i));
                }
            }
            for (JsonNode p : json.path("parts")) {
                if (!p.has("image")) {
                    parts.add(p);
                } else if (newIndex[p.get("image").asInt()] >= 0) {
                    parts.addObject().put("image", newIndex[p.get("image").asInt()]);
                }
            }
            c.output(ShardStats.TAG, KV.of(ShardStats.IMAGES_DROPPED + ShardFilters.DUPLICATE, (long) drop.size()));
            if (parts.isEmpty()) {
                c.output(ShardStats.TAG, KV.of(ShardStats.SKIPPED + ShardFilters.EMPTY_DOCUMENT, 1L));
                return;
            }
            json.set("parts", parts);
            images = kept;
        }
        ArrayNode list = json.putArray("images");
        for (int i = 0; i < images.size(); i++) {
            ShardItem.Image im = images.get(i);
            list.addObject().put("member", ShardSample.member(item.type(), i, im.ext())).put("sha256", im.sha256())
                    .put("width", im.width()).put("height", im.height()).put("source", im.source());
        }
        if (tokenizer != null) {
            json.set("tokens", tokens(json, images.size()));
        }
        c.output(KV.of(item.key(), item.with(json.toString(), images)));
    }

    /** {"tokenizer": sha, "pieces": [[ids], …]}: what {@link SampleEncoder#prepare} encodes, in its order. */
    private ObjectNode tokens(ObjectNode json, int imageCount) {
        List<ImageRef> stand = new ArrayList<>();
        for (int i = 0; i < imageCount; i++) {
            stand.add(ImageRef.of("pixel.png", PIXEL));
        }
        Sample s = ShardSample.plain(json, stand);
        List<long[]> pieces = new ArrayList<>();
        new SampleEncoder(text -> {
            long[] ids = tokenizer.encode(text);
            pieces.add(ids);
            return ids;
        }, img -> new float[0]).prepare(s, null, null);
        ObjectNode t = JsonFiles.MAPPER.createObjectNode().put("tokenizer", tokenizerSha256);
        ArrayNode arr = t.putArray("pieces");
        for (long[] p : pieces) {
            ArrayNode a = arr.addArray();
            for (long id : p) {
                a.add(id);
            }
        }
        return t;
    }
}
