package io.mm1j.mllm;

import io.mm1j.Mm1Exception;
import io.mm1j.vision.RgbImage;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Encoded images (the connector's k × D outputs) keyed by a SHA-256 of the pixels, so that a multi-turn
 * conversation, which resends its images every turn, runs the image encoder once per image. Bounded (least recently
 * used entries go first) and thread-safe. One cache belongs to one model: the embeddings depend on its weights.
 */
public final class ImageEmbeddingCache {
    private final int maxEntries;
    private final Map<String, float[]> entries;
    private long hits;
    private long misses;

    /** @param maxEntries images kept (≥ 1) */
    public ImageEmbeddingCache(int maxEntries) {
        if (maxEntries < 1) {
            throw new Mm1Exception("image cache size must be >= 1, got " + maxEntries);
        }
        this.maxEntries = maxEntries;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, float[]> e) {
                return size() > ImageEmbeddingCache.this.maxEntries;
            }
        };
    }

    /** The content key of an image: SHA-256 of its size and RGB bytes. */
    public static String key(RgbImage img) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(ByteBuffer.allocate(8).putInt(img.width()).putInt(img.height()).array());
            md.update(img.rgb());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is a required JDK algorithm", e);
        }
    }

    /** The embedding (k·D floats) for {@code key}, or null. The array is shared: do not modify it. */
    public synchronized float[] get(String key) {
        float[] v = entries.get(key);
        if (v == null) {
            misses++;
        } else {
            hits++;
        }
        return v;
    }

    public synchronized void put(String key, float[] embedding) {
        entries.put(key, embedding);
    }

    public synchronized int size() {
        return entries.size();
    }

    public int maxEntries() {
        return maxEntries;
    }

    public synchronized long hits() {
        return hits;
    }

    public synchronized long misses() {
        return misses;
    }

    public synchronized void clear() {
        entries.clear();
    }
}
