package io.mm1j.data.shard;

import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.TupleTag;

/**
 * The counts every stage reports, as {@code (name, count)} pairs summed per name at the end of the pipeline (a side
 * output, so the figures do not depend on a runner's metrics support):
 * <ul>
 *   <li>{@code read}: samples the readers yielded;</li>
 *   <li>{@code reader/<reason>}: what the readers skipped ({@link io.mm1j.data.SkipReport}'s reasons: records
 *       dropped, and for interleaved documents images that were missing);</li>
 *   <li>{@code skipped/<reason>}: samples the pipeline left out ({@link ShardFilters}'s reasons);</li>
 *   <li>{@code imagesDropped/<reason>}: images taken out of documents that were kept;</li>
 *   <li>{@code shard/<name>} and {@code shardBytes/<name>}: samples and bytes of each written shard.</li>
 * </ul>
 */
final class ShardStats {
    static final TupleTag<KV<String, Long>> TAG = new TupleTag<>() {};
    static final String READ = "read";
    static final String READER = "reader/";
    static final String SKIPPED = "skipped/";
    static final String IMAGES_DROPPED = "imagesDropped/";
    static final String SHARD = "shard/";
    static final String SHARD_BYTES = "shardBytes/";

    private ShardStats() {}
}
