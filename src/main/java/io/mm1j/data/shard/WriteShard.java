package io.mm1j.data.shard;

import io.mm1j.Mm1Exception;
import io.mm1j.data.ShardSample;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.values.KV;

/**
 * Stage 6: one shard's samples → {@code shard-NNNNNN.tar} in the output folder, in key order, each sample's images
 * ({@code {key}.jpg}, {@code {key}.{i}.png}, …) then {@code {key}.json}. Members carry a fixed time, owner and mode,
 * so the same input gives byte-identical shards. The tar is written under a temporary name and renamed, so a retried
 * bundle (runners retry failed work) replaces it whole and a reader never sees half a shard.
 */
final class WriteShard extends DoFn<KV<Integer, Iterable<ShardItem>>, KV<String, Long>> {
    private final String dir;

    WriteShard(String dir) {
        this.dir = dir;
    }

    static String name(int shard) {
        return String.format(Locale.ROOT, "shard-%06d.tar", shard);
    }

    @ProcessElement
    public void process(@Element KV<Integer, Iterable<ShardItem>> shard, OutputReceiver<KV<String, Long>> out) {
        List<ShardItem> items = new ArrayList<>();
        shard.getValue().forEach(items::add);
        items.sort(Comparator.comparing(ShardItem::key));
        String name = name(shard.getKey());
        Path target = Path.of(dir, name);
        Path tmp = Path.of(dir, "." + name + ".tmp-" + ProcessHandle.current().pid() + "-" + Thread.currentThread()
                .getId());
        try {
            try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16);
                 TarArchiveOutputStream tar = new TarArchiveOutputStream(os)) {
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                for (ShardItem it : items) {
                    for (int i = 0; i < it.images().size(); i++) {
                        ShardItem.Image im = it.images().get(i);
                        member(tar, it.key() + "." + ShardSample.member(it.type(), i, im.ext()), im.bytes());
                    }
                    member(tar, it.key() + ".json", it.json().getBytes(StandardCharsets.UTF_8));
                }
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            out.output(KV.of(ShardStats.SHARD + name, (long) items.size()));
            out.output(KV.of(ShardStats.SHARD_BYTES + name, Files.size(target)));
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the staging folder is removed as a whole when the run fails
            }
            throw new Mm1Exception(target + ": cannot write shard: " + e.getMessage(), e);
        }
    }

    private static void member(TarArchiveOutputStream tar, String name, byte[] bytes) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(bytes.length);
        e.setMode(0644);
        e.setModTime(0);
        e.setUserName("mm1j");
        e.setGroupName("mm1j");
        tar.putArchiveEntry(e);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }
}
