package dev.synapsebackup.repository;

import dev.synapsebackup.RepositoryAccessException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Consumer;

/**
 * A repository in a local directory: the same object names as in S3, as files. Every file is
 * written under a temporary hidden name, fsynced, and renamed into place, so a crash never
 * leaves a partial file under a real name. User metadata (the format marker) lives in a hidden
 * sidecar {@code .<name>.meta}, written before the data file appears.
 *
 * <p>Names starting with {@code .} are the repository's own bookkeeping and never listed.
 */
public final class LocalRepository extends AbstractRepository {
    /** Name prefix of the hidden temporary files of writes in progress. */
    static final String TEMP_PREFIX = ".tmp-";

    private final Path root;

    /** A repository in {@code root} (which {@link #createIfMissing()} can create). */
    public LocalRepository(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    /** The repository directory. */
    public Path root() {
        return root;
    }

    @Override
    public String location() {
        return root.toString();
    }

    /** Creates the repository directory (and parents) if it does not exist yet. */
    public void createIfMissing() {
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new RepositoryAccessException("cannot create repository directory " + root + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void checkAccess() {
        if (!Files.exists(root)) {
            throw new RepositoryAccessException("repository directory " + root + " does not exist");
        }
        if (!Files.isDirectory(root)) {
            throw new RepositoryAccessException("repository " + root + " is not a directory");
        }
        if (!Files.isReadable(root) || !Files.isWritable(root) || !Files.isExecutable(root)) {
            throw new RepositoryAccessException("repository directory " + root + " is not readable and writable by this user");
        }
    }

    private Path resolve(String key) throws IOException {
        if (key.isEmpty() || key.startsWith("/") || key.contains("\0")) {
            throw new IOException("invalid object key \"" + key + "\"");
        }
        Path p = root.resolve(key).normalize();
        if (!p.startsWith(root) || p.equals(root)) {
            throw new IOException("object key \"" + key + "\" is outside the repository");
        }
        for (Path part : root.relativize(p)) {
            if (part.toString().startsWith(".")) {
                throw new IOException("object key \"" + key + "\" uses a reserved name");
            }
        }
        return p;
    }

    /** The hidden file that holds the user metadata of {@code file}. */
    static Path sidecar(Path file) {
        return file.resolveSibling("." + file.getFileName() + ".meta");
    }

    @Override
    public Optional<ObjectInfo> stat(String key) throws IOException {
        Path p = resolve(key);
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        if (!a.isRegularFile()) {
            return Optional.empty();
        }
        return Optional.of(new ObjectInfo(key, a.size(), a.lastModifiedTime().toInstant(), readMetadata(p)));
    }

    private static Map<String, String> readMetadata(Path file) throws IOException {
        Path meta = sidecar(file);
        if (!Files.isRegularFile(meta)) {
            return Map.of();
        }
        Properties props = new Properties();
        try (var r = Files.newBufferedReader(meta, StandardCharsets.UTF_8)) {
            props.load(r);
        }
        Map<String, String> result = new LinkedHashMap<>();
        props.stringPropertyNames().forEach(n -> result.put(n, props.getProperty(n)));
        return result;
    }

    @Override
    public InputStream open(String key) throws IOException {
        Path p = resolve(key);
        try {
            return Files.newInputStream(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            throw new FileNotFoundException("object " + key + " does not exist in " + root);
        }
    }

    @Override
    public ObjectWriter create(String key, long expectedSize, Map<String, String> metadata) throws IOException {
        Path target = resolve(key);
        Files.createDirectories(target.getParent());
        return new LocalObjectWriter(key, target, metadata, false);
    }

    @Override
    public boolean putIfAbsent(String key, byte[] content, Map<String, String> metadata) throws IOException {
        Path target = resolve(key);
        Files.createDirectories(target.getParent());
        try (LocalObjectWriter w = new LocalObjectWriter(key, target, metadata, true)) {
            w.write(content);
            w.commit();
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        }
    }

    @Override
    public void deleteObject(String key) throws IOException {
        Path p = resolve(key);
        Files.deleteIfExists(p);
        Files.deleteIfExists(sidecar(p));
        fsyncDirectory(p.getParent());
        // A directory emptied by this delete (such as locks/) goes too, but never the root.
        Path dir = p.getParent();
        while (dir != null && !dir.equals(root) && dir.startsWith(root)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                if (ds.iterator().hasNext()) {
                    break;
                }
            } catch (NoSuchFileException e) {
                break;
            }
            try {
                Files.delete(dir);
            } catch (java.nio.file.DirectoryNotEmptyException | NoSuchFileException raced) {
                break;
            }
            dir = dir.getParent();
        }
    }

    @Override
    public void listObjects(Consumer<ObjectInfo> consumer) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new RepositoryAccessException("repository directory " + root + " does not exist");
        }
        walk(root, "", consumer);
    }

    private void walk(Path dir, String keyPrefix, Consumer<ObjectInfo> consumer) throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path child : ds) {
                if (!child.getFileName().toString().startsWith(".")) {
                    children.add(child);
                }
            }
        }
        children.sort(null);
        for (Path child : children) {
            String name = keyPrefix + child.getFileName();
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(child, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                continue; // deleted meanwhile
            }
            if (a.isDirectory()) {
                walk(child, name + "/", consumer);
            } else if (a.isRegularFile()) {
                consumer.accept(new ObjectInfo(name, a.size(), a.lastModifiedTime().toInstant()));
            }
        }
    }

    @Override
    public int removeStaleUploads(java.time.Duration olderThan) throws IOException {
        java.time.Instant cutoff = java.time.Instant.now().minus(olderThan);
        int[] removed = {0};
        if (!Files.isDirectory(root)) {
            return 0;
        }
        try (var walk = Files.walk(root)) {
            walk.filter(p -> p.getFileName().toString().startsWith(TEMP_PREFIX)).forEach(p -> {
                try {
                    if (Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(cutoff)
                            && Files.deleteIfExists(p)) {
                        removed[0]++;
                    }
                } catch (IOException e) {
                    // vanished or not ours to remove: leave it
                }
            });
        }
        return removed[0];
    }

    static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Not every filesystem lets a directory be opened for fsync; the rename is still atomic.
        }
    }

    @Override
    public void close() {
        // nothing to release
    }
}
