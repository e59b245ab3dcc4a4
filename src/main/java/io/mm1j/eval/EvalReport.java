package io.mm1j.eval;

import io.mm1j.io.AtomicFiles;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.tensor.SafeTensorsWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * What an evaluation writes besides its results: the provenance block of {@code scores.json} (model files and
 * data files with SHA-256 checksums, so a figure can be traced to exact bytes) and JSON writing helpers. Nothing
 * time- or machine-dependent goes into scores.json, so rerunning the same command reproduces it byte for byte;
 * timings go to the log instead. Pictures are not hashed one by one (COCO has 120k); the files that list them are.
 */
public final class EvalReport {
    public static final ObjectMapper JSON = new ObjectMapper();

    private EvalReport() {}

    /** Lower-case hex SHA-256 of a file, streamed. */
    public static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot read for checksum: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The model block: folder, name, and a checksum of each file that defines its behaviour. */
    public static ObjectNode model(Path dir, String name) {
        ObjectNode m = JSON.createObjectNode().put("path", dir.toAbsolutePath().normalize().toString())
                .put("name", name);
        ObjectNode files = m.putObject("files");
        try (var s = Files.list(dir)) {
            for (Path f : s.sorted().toList()) {
                String n = f.getFileName().toString();
                if (Files.isRegularFile(f) && (n.equals("config.json") || n.equals("tokenizer.json")
                        || n.endsWith(".safetensors"))) {
                    files.putObject(n).put("bytes", Files.size(f)).put("sha256", sha256(f));
                }
            }
        } catch (IOException e) {
            throw new Mm1Exception(dir + ": cannot list model folder: " + e.getMessage(), e);
        }
        if (files.has("config.json")) {
            m.put("configSha256", files.get("config.json").get("sha256").asText());
        }
        return m;
    }

    /** The data block: each file with its role, absolute path, size and SHA-256. */
    public static ArrayNode data(List<EvalData.DataFile> files) {
        ArrayNode a = JSON.createArrayNode();
        for (EvalData.DataFile f : files) {
            try {
                a.addObject().put("role", f.role()).put("path", f.path().toAbsolutePath().normalize().toString())
                        .put("bytes", Files.size(f.path())).put("sha256", sha256(f.path()));
            } catch (IOException e) {
                throw new Mm1Exception(f.path() + ": cannot read: " + e.getMessage(), e);
            }
        }
        return a;
    }

    /** Pretty JSON, written atomically. */
    public static void write(Path file, Object node) {
        try {
            byte[] b = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node);
            AtomicFiles.write(file, o -> o.write(b));
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot write: " + e.getMessage(), e);
        }
    }
}
