package io.mm1j.data;

import io.mm1j.Mm1Exception;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;

/**
 * Where an interleaved dataset's images live: a folder, or a tar (how mmc4/OBELICS images are usually
 * downloaded). A tar is indexed once (names → entries, no bytes) and members are read on demand, so memory holds
 * the index, not the images.
 */
public final class ImageStore implements AutoCloseable {
    private final Path root;
    private final TarFile tar;
    private final Map<String, TarArchiveEntry> index = new HashMap<>();

    private ImageStore(Path root, TarFile tar) {
        this.root = root;
        this.tar = tar;
    }

    /** A folder or a {@code .tar} file. */
    public static ImageStore open(Path location) {
        if (Files.isDirectory(location)) {
            return new ImageStore(location, null);
        }
        if (!Files.isRegularFile(location)) {
            throw new Mm1Exception(location + ": image folder or tar not found");
        }
        try {
            TarFile t = new TarFile(location);
            ImageStore s = new ImageStore(location, t);
            for (TarArchiveEntry e : t.getEntries()) {
                if (e.isFile()) {
                    String n = e.getName();
                    s.index.put(n.substring(n.lastIndexOf('/') + 1), e); // mmc4 names are bare file names
                }
            }
            return s;
        } catch (IOException e) {
            throw new Mm1Exception(location + ": cannot read image tar: " + e.getMessage(), e);
        }
    }

    /** The image called {@code name}, or null when the store does not have it. */
    public ImageRef find(String name) {
        if (tar == null) {
            Path f = root.resolve(name);
            return Files.isRegularFile(f) ? ImageRef.of(f) : null;
        }
        TarArchiveEntry e = index.get(name);
        if (e == null) {
            return null;
        }
        try (InputStream in = tar.getInputStream(e)) {
            return ImageRef.of(name, in.readAllBytes());
        } catch (IOException ex) {
            throw new Mm1Exception(root + ":" + name + ": cannot read: " + ex.getMessage(), ex);
        }
    }

    public Path location() {
        return root;
    }

    @Override
    public void close() {
        if (tar != null) {
            try {
                tar.close();
            } catch (IOException ignored) {
                // read-only
            }
        }
    }
}
