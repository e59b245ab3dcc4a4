package io.mm1j.data;

import io.mm1j.Mm1Exception;
import io.mm1j.io.SafePaths;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.tar.TarFile;

/**
 * Where a dataset's images live: a folder, or a tar (how mmc4/OBELICS images are usually downloaded). A tar is
 * indexed once (names → entries, no bytes) and members are read on demand, so memory holds the index, not the
 * images.
 *
 * <p>Image names come from data files, which may be hostile: every lookup stays inside the folder (no {@code ../},
 * no absolute paths, no symbolic link leading out, regular files only; see {@link SafePaths}), and a tar serves
 * only its regular-file members — a symlink, hard link or device member is never read as an image.
 */
public final class ImageStore implements AutoCloseable {
    private final Path root;
    private final TarFile tar;
    private final Map<String, TarArchiveEntry> index = new HashMap<>();
    /** Tar members that are not regular files, by name → their kind, so a lookup can say why it failed. */
    private final Map<String, String> irregular = new HashMap<>();

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
                String n = e.getName();
                String bare = n.substring(n.lastIndexOf('/') + 1); // mmc4 names are bare file names
                if (isRegular(e)) {
                    s.index.put(bare, e);
                } else if (!e.isDirectory()) {
                    s.irregular.put(bare, kind(e));
                }
            }
            return s;
        } catch (IOException e) {
            throw new Mm1Exception(location + ": cannot read image tar: " + e.getMessage(), e);
        }
    }

    /**
     * True for a tar member that holds a file's bytes. Commons Compress's {@code isFile()} is true for every
     * non-directory member (links and devices included), so the type flag is checked instead.
     */
    static boolean isRegular(TarArchiveEntry e) {
        byte flag = e.getLinkFlag();
        return (flag == TarConstants.LF_NORMAL || flag == TarConstants.LF_OLDNORM || flag == TarConstants.LF_CONTIG)
                && !e.isDirectory();
    }

    /** "symbolic link to x", "hard link to x", "character device", … for messages. */
    static String kind(TarArchiveEntry e) {
        if (e.isSymbolicLink()) {
            return "symbolic link to " + e.getLinkName();
        }
        if (e.isLink()) {
            return "hard link to " + e.getLinkName();
        }
        if (e.isCharacterDevice()) {
            return "character device";
        }
        if (e.isBlockDevice()) {
            return "block device";
        }
        if (e.isFIFO()) {
            return "FIFO";
        }
        return "tar entry of type '" + (char) e.getLinkFlag() + "'";
    }

    /**
     * The image called {@code name}, or null after reporting why to {@code skips}: missing, a path that leaves the
     * store ({@link SkipReport#UNSAFE_PATH}), a tar member that is not a regular file, or an empty file.
     *
     * @param where the record that named the image ("file:line"), for the report
     */
    public ImageRef find(String name, String where, SkipReport skips) {
        if (tar == null) {
            return file(root, name, where, skips);
        }
        TarArchiveEntry e = index.get(name);
        if (e == null) {
            String kind = irregular.get(name);
            if (kind != null) {
                skips.skip(SkipReport.NOT_REGULAR, where, root + ":" + name + " is a " + kind);
            } else {
                skips.skip(SkipReport.MISSING_IMAGE, where, name + " not in " + root);
            }
            return null;
        }
        if (e.getSize() == 0) {
            skips.skip(SkipReport.BAD_IMAGE, where, root + ":" + name + ": empty file (0 bytes)");
            return null;
        }
        try (InputStream in = tar.getInputStream(e)) {
            return ImageRef.of(name, in.readAllBytes());
        } catch (IOException ex) {
            throw new Mm1Exception(root + ":" + name + ": cannot read: " + ex.getMessage(), ex);
        }
    }

    /**
     * The image file {@code name} under the folder {@code root}, or null after reporting why (see
     * {@link #find(String, String, SkipReport)}); readers whose images are always a folder call this directly.
     */
    public static ImageRef file(Path root, String name, String where, SkipReport skips) {
        Path f;
        try {
            f = SafePaths.existingRegularFileInside(root, name, where);
        } catch (Mm1Exception e) {
            String m = e.getMessage(); // "where: why"; the report adds where itself
            skips.skip(SkipReport.UNSAFE_PATH, where, m.startsWith(where + ": ") ? m.substring(where.length() + 2) : m);
            return null;
        }
        if (f == null) {
            skips.skip(SkipReport.MISSING_IMAGE, where, root.resolve(name).normalize().toString());
            return null;
        }
        try {
            if (Files.size(f) == 0) {
                skips.skip(SkipReport.BAD_IMAGE, where, f + ": empty file (0 bytes)");
                return null;
            }
        } catch (IOException e) {
            throw new Mm1Exception(f + ": cannot read: " + e.getMessage(), e);
        }
        return ImageRef.of(f);
    }

    /** True when {@code name} is a safe, present regular file (a silent probe for readers that try several names). */
    public static boolean exists(Path root, String name) {
        try {
            return SafePaths.existingRegularFileInside(root, name, name) != null;
        } catch (Mm1Exception e) {
            return false;
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
