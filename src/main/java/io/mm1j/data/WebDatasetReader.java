package io.mm1j.data;

import com.fasterxml.jackson.databind.JsonNode;
import io.mm1j.Mm1Exception;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * WebDataset shards: plain tar files in which the members of one sample are consecutive and share a key — the
 * member path up to the first dot of its file name ({@code a/b/0001.png}, {@code a/b/0001.txt} → key
 * {@code a/b/0001}). A sample needs an image ({@code .png/.jpg/.jpeg}) and a caption ({@code .txt}, or a
 * {@code .json} with "caption"/"captions"/"text"); other members (e.g. {@code .cls}) are allowed by the format and
 * ignored. Only regular-file members are read: symbolic links, hard links, devices and FIFOs are counted as
 * {@link SkipReport#NOT_REGULAR}. Shards are streamed member by member, so memory holds one sample's bytes.
 *
 * <p>The shards of {@code mm1 data shard} (a {@code .json} member with an "mm1j" field, see {@link ShardSample}) also
 * carry interleaved documents, text and conversations, with several image members per sample; their token ids are
 * kept as {@link Sample.Pretokenized} when the reader is made with {@code keepTokens}, and dropped otherwise.
 */
public final class WebDatasetReader extends SampleReader {
    static final Set<String> IMAGE_EXT = Set.of("png", "jpg", "jpeg");

    private final List<Path> shards;
    private int shardIndex = -1;
    private TarArchiveInputStream tar;
    private TarArchiveEntry pending;
    private Path shard;
    private final boolean keepTokens;

    public WebDatasetReader(List<Path> shards, SkipReport skips) {
        this(shards, skips, false);
    }

    /** @param keepTokens hand out the token ids of mm1j shards ({@link Sample.Pretokenized}) for training */
    public WebDatasetReader(List<Path> shards, SkipReport skips, boolean keepTokens) {
        super(shards.size() == 1 ? shards.get(0).toString() : shards.size() + " shards from " + shards.get(0), skips);
        if (shards.isEmpty()) {
            throw new Mm1Exception("WebDataset: no shard files given");
        }
        this.shards = List.copyOf(shards);
        this.keepTokens = keepTokens;
    }

    static String key(String member) {
        int slash = member.lastIndexOf('/');
        int dot = member.indexOf('.', slash + 1);
        return dot < 0 ? member : member.substring(0, dot);
    }

    static String extension(String member) {
        int slash = member.lastIndexOf('/');
        int dot = member.indexOf('.', slash + 1);
        return dot < 0 ? "" : member.substring(dot + 1).toLowerCase();
    }

    @Override
    protected Sample readNext() {
        try {
            while (true) {
                if (tar == null && !openNextShard()) {
                    return null;
                }
                Map<String, byte[]> group = new LinkedHashMap<>();
                String key = null;
                TarArchiveEntry e = pending != null ? pending : tar.getNextEntry();
                pending = null;
                while (e != null) {
                    if (!ImageStore.isRegular(e) && !e.isDirectory()) {
                        // A link or device member has no bytes of its own: reading "its" image would mean following
                        // it outside the shard (or blocking on a FIFO), so it is never part of a sample.
                        skips.skip(SkipReport.NOT_REGULAR, shard + ":" + e.getName(), "tar member is a "
                                + ImageStore.kind(e));
                    } else if (ImageStore.isRegular(e)) {
                        String k = key(e.getName());
                        if (key != null && !k.equals(key)) {
                            pending = e; // first member of the next sample
                            break;
                        }
                        key = k;
                        group.put(extension(e.getName()), tar.readAllBytes());
                    }
                    e = tar.getNextEntry();
                }
                if (e == null) {
                    tar.close();
                    tar = null;
                }
                if (key != null) {
                    Sample s = toSample(key, group);
                    if (s != null) {
                        return s;
                    }
                }
            }
        } catch (IOException e) {
            throw new Mm1Exception(shard + ": cannot read tar: " + e.getMessage(), e);
        }
    }

    private boolean openNextShard() throws IOException {
        if (++shardIndex >= shards.size()) {
            return false;
        }
        shard = shards.get(shardIndex);
        if (!Files.isRegularFile(shard)) {
            throw new Mm1Exception(shard + ": shard not found");
        }
        tar = new TarArchiveInputStream(new BufferedInputStream(Files.newInputStream(shard), 1 << 16));
        return true;
    }

    private Sample toSample(String key, Map<String, byte[]> group) {
        String where = shard + ":" + key;
        byte[] image = null;
        String imageExt = null;
        for (String ext : group.keySet()) {
            if (IMAGE_EXT.contains(ext)) {
                image = group.get(ext);
                imageExt = ext;
                break;
            }
        }
        List<String> captions = new ArrayList<>();
        JsonNode mm1j = null;
        if (group.containsKey("json") && !group.containsKey("txt")) {
            try {
                JsonNode j = Json.MAPPER.readTree(group.get("json"));
                if (j != null && j.has("mm1j")) {
                    mm1j = j;
                }
            } catch (IOException ignored) {
                // reported below, where a caption JSON is parsed
            }
        }
        if (mm1j != null) {
            Sample s = ShardSample.read(mm1j, shard.getFileName().toString(), group, where, skips);
            return keepTokens || s == null ? s : Sample.Pretokenized.unwrap(s);
        }
        if (group.containsKey("txt")) {
            captions.add(new String(group.get("txt"), StandardCharsets.UTF_8).strip());
        } else if (group.containsKey("json")) {
            try {
                JsonNode j = Json.MAPPER.readTree(group.get("json"));
                if (j.path("captions").isArray()) {
                    j.get("captions").forEach(c -> captions.add(c.asText()));
                } else if (j.path("caption").isTextual() || j.path("text").isTextual()) {
                    captions.add(j.path("caption").isTextual() ? j.get("caption").asText() : j.get("text").asText());
                }
            } catch (IOException ex) {
                skips.skip(SkipReport.CORRUPT_JSON, where + ".json", ex.getMessage().lines().findFirst().orElse(""));
                return null;
            }
        }
        if (image == null || captions.isEmpty() || captions.get(0).isEmpty()) {
            skips.skip(SkipReport.MISSING_MEMBER, where, image == null ? "no image (.png/.jpg/.jpeg) member"
                    : "no caption (.txt or .json) member");
            return null;
        }
        if (image.length == 0) {
            skips.skip(SkipReport.BAD_IMAGE, where + "." + imageExt, "empty file (0 bytes)");
            return null;
        }
        return new Sample.Caption(key, ImageRef.of(shard.getFileName() + ":" + key + "." + imageExt, image),
                List.copyOf(captions));
    }

    @Override
    public void close() {
        if (tar != null) {
            try {
                tar.close();
            } catch (IOException ignored) {
                // read-only stream: nothing to lose
            }
            tar = null;
        }
    }
}
