package io.mm1j.data.shard;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.beam.sdk.coders.CustomCoder;

/**
 * One sample on its way through the shard pipeline: its shard key, its {@link io.mm1j.data.ShardSample} JSON (as
 * text; "images" and "tokens" are filled in by the later stages) and its images.
 *
 * @param key    the WebDataset key: {@code UUUUU_NNNNNNNNN}, input unit and position in it, so that sorting keys
 *               gives the input order (dedup keeps the first copy; shards are filled in key order)
 * @param type   the sample type ("caption", "interleaved", "text", "conversation")
 * @param json   the sample JSON
 * @param images the images in the JSON's order
 */
public record ShardItem(String key, String type, String json, List<Image> images) {
    public ShardItem {
        images = List.copyOf(images);
    }

    /**
     * An image: before preparation a file ({@code path}) or bytes from a tar; after it, the bytes to write with
     * their extension, the SHA-256 of the input bytes (the dedup key) and the pixel size written.
     *
     * @param source the input's name for the image (file name or tar member), for messages and the JSON
     */
    public record Image(String source, String path, byte[] bytes, String ext, String sha256, int width, int height) {
        static Image unread(String source, String path, byte[] bytes) {
            return new Image(source, path, bytes, "", "", 0, 0);
        }
    }

    /** The sample JSON as a tree (a fresh copy to edit). */
    com.fasterxml.jackson.databind.node.ObjectNode jsonTree() {
        try {
            return (com.fasterxml.jackson.databind.node.ObjectNode) io.mm1j.io.JsonFiles.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new io.mm1j.Mm1Exception(key + ": pipeline JSON unreadable: " + e.getMessage(), e);
        }
    }

    ShardItem with(String newJson, List<Image> newImages) {
        return new ShardItem(key, type, newJson, newImages);
    }

    /** Beam's wire format: length-prefixed fields, self-delimiting (usable nested in KV and iterables). */
    static final class Coder extends CustomCoder<ShardItem> {
        static final Coder INSTANCE = new Coder();

        @Override
        public void encode(ShardItem v, OutputStream out) throws IOException {
            DataOutputStream d = new DataOutputStream(out);
            string(d, v.key);
            string(d, v.type);
            string(d, v.json);
            d.writeInt(v.images.size());
            for (Image im : v.images) {
                string(d, im.source);
                d.writeBoolean(im.path != null);
                if (im.path != null) {
                    string(d, im.path);
                }
                d.writeBoolean(im.bytes != null);
                if (im.bytes != null) {
                    d.writeInt(im.bytes.length);
                    d.write(im.bytes);
                }
                string(d, im.ext);
                string(d, im.sha256);
                d.writeInt(im.width);
                d.writeInt(im.height);
            }
            d.flush();
        }

        @Override
        public ShardItem decode(InputStream in) throws IOException {
            DataInputStream d = new DataInputStream(in);
            String key = string(d);
            String type = string(d);
            String json = string(d);
            int n = d.readInt();
            List<Image> images = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                String source = string(d);
                String path = d.readBoolean() ? string(d) : null;
                byte[] bytes = null;
                if (d.readBoolean()) {
                    bytes = new byte[d.readInt()];
                    d.readFully(bytes);
                }
                images.add(new Image(source, path, bytes, string(d), string(d), d.readInt(), d.readInt()));
            }
            return new ShardItem(key, type, json, images);
        }

        @Override
        public void verifyDeterministic() {
            // the encoding is a pure function of the value
        }

        private static void string(DataOutputStream d, String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            d.writeInt(b.length);
            d.write(b);
        }

        private static String string(DataInputStream d) throws IOException {
            byte[] b = new byte[d.readInt()];
            d.readFully(b);
            return new String(b, StandardCharsets.UTF_8);
        }
    }
}
