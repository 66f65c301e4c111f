package dev.synapsebackup.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Fingerprints of real directory trees, for byte-for-byte comparisons in tests. */
public final class Trees {
    private Trees() {
    }

    /**
     * Moves directory {@code dir} to {@code elsewhere} (as if onto another disk) and leaves a
     * symbolic link to it in its place; returns {@code elsewhere}.
     */
    public static Path moveBehindSymlink(Path dir, Path elsewhere) throws IOException {
        Files.createDirectories(elsewhere.getParent());
        Files.move(dir, elsewhere);
        Files.createSymbolicLink(dir, elsewhere);
        return elsewhere;
    }

    /**
     * Every regular file under {@code root} (relative path → "sha256 mode mtime-seconds"), and every
     * directory (→ "dir"). Links and other types are listed as such so that they show up.
     */
    public static Map<String, String> fingerprint(Path root) throws IOException {
        Map<String, String> result = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (p.equals(root)) {
                    continue;
                }
                String rel = root.relativize(p).toString();
                PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (a.isRegularFile()) {
                    result.put(rel, sha256(p) + " " + PosixFilePermissions.toString(a.permissions()) + " "
                            + a.lastModifiedTime().toInstant().getEpochSecond());
                } else if (a.isDirectory()) {
                    result.put(rel, "dir");
                } else {
                    result.put(rel, a.isSymbolicLink() ? "symlink" : "other");
                }
            }
        }
        return result;
    }

    /** Lower-case hex SHA-256 of a file. */
    public static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
