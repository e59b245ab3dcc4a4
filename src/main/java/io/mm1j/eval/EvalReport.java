package io.mm1j.eval;

import io.mm1j.io.AtomicFiles;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mm1j.Mm1Exception;
import io.mm1j.io.JsonFiles;
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
        ObjectNode m = JsonFiles.MAPPER.createObjectNode().put("path", dir.toAbsolutePath().normalize().toString())
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
        return data(files, null, null);
    }

    /**
     * The data block, for files of which some were derived into the staging folder of the output ({@code mc_*.json}
     * of the synthetic world): those are recorded under the folder they will have once {@code staging} is renamed
     * to {@code target}.
     */
    public static ArrayNode data(List<EvalData.DataFile> files, Path staging, Path target) {
        ArrayNode a = JsonFiles.MAPPER.createArrayNode();
        for (EvalData.DataFile f : files) {
            Path p = f.path().toAbsolutePath().normalize();
            Path shown = staging != null && p.startsWith(staging.toAbsolutePath().normalize())
                    ? target.resolve(staging.toAbsolutePath().normalize().relativize(p)) : p;
            try {
                a.addObject().put("role", f.role()).put("path", shown.toString())
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
            byte[] b = JsonFiles.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(node);
            AtomicFiles.write(file, o -> o.write(b));
        } catch (IOException e) {
            throw new Mm1Exception(file + ": cannot write: " + e.getMessage(), e);
        }
    }
}
