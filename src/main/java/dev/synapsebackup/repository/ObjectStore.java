package dev.synapsebackup.repository;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The object level of a repository: put, get, head, list and delete of objects, nothing about
 * backups. An S3 bucket under a prefix and a local directory implement it; the backup-level rules
 * of SPEC §3 ({@link Repository}, {@link AbstractRepository}) and the lock ({@link RepositoryLock})
 * are written over it.
 *
 * <p>All keys are relative to the repository's prefix.
 */
public interface ObjectStore extends AutoCloseable {

    /** Human-readable location for messages: {@code s3://bucket/prefix} or the directory path. */
    String location();

    /** Metadata of one object, or empty if it does not exist. */
    Optional<ObjectInfo> stat(String key) throws IOException;

    /**
     * Opens an object for streaming reading.
     *
     * @throws java.io.FileNotFoundException if it does not exist
     */
    InputStream open(String key) throws IOException;

    /** The first bytes of a small object and the store's last-modified time of it. */
    record SmallObject(byte[] content, java.time.Instant lastModified) {
    }

    /**
     * The first {@code maxBytes} bytes of a small object (a lock object) and its last-modified
     * time, or empty if it does not exist. The default stats and then opens it; S3 answers both
     * with one GET.
     */
    default Optional<SmallObject> readSmall(String key, int maxBytes) throws IOException {
        Optional<ObjectInfo> stat = stat(key);
        if (stat.isEmpty()) {
            return Optional.empty();
        }
        try (InputStream in = open(key)) {
            return Optional.of(new SmallObject(in.readNBytes(maxBytes), stat.get().lastModified()));
        } catch (java.io.FileNotFoundException e) {
            return Optional.empty();
        }
    }

    /**
     * Starts a streaming write of an object.
     *
     * @param key          the object's key
     * @param expectedSize the expected number of bytes, or -1 if unknown (a hint for part sizes)
     * @param metadata     user metadata to store with the object
     */
    ObjectWriter create(String key, long expectedSize, Map<String, String> metadata) throws IOException;

    /** Writes a small object in one go, atomically. */
    default ObjectInfo put(String key, byte[] content, Map<String, String> metadata) throws IOException {
        try (ObjectWriter w = create(key, content.length, metadata)) {
            w.write(content);
            return w.commit();
        }
    }

    /**
     * Writes a small object only if no object with that key exists (S3 {@code If-None-Match: *},
     * an exclusive create on a local disk).
     *
     * @return whether this call created the object
     */
    boolean putIfAbsent(String key, byte[] content, Map<String, String> metadata) throws IOException;

    /**
     * Whether {@link #putIfAbsent} is known to be atomic on this store. True until the store is
     * found not to implement conditional writes (S3 answering 501 to {@code If-None-Match: *}, or
     * accepting a conditional put of a key that exists, which the first successful
     * {@code putIfAbsent} of a repository probes);
     * then {@code putIfAbsent} falls back to write-then-read-back, which two racing writers can
     * both pass, and callers that need mutual exclusion use another protocol.
     */
    default boolean supportsConditionalPut() {
        return true;
    }

    /**
     * Until when the store retains {@code key} (S3 Object Lock: it refuses to delete or overwrite
     * that version before then), as the store reports it; empty when it has no retention or does
     * not exist. The date may lie in the past. Stores without retention return empty.
     */
    default Optional<java.time.Instant> objectRetainedUntil(String key) throws IOException {
        return Optional.empty();
    }

    /** Deletes an object; a missing object is not an error. */
    void deleteObject(String key) throws IOException;

    /**
     * Deletes up to 1,000 objects; missing ones are not an error. S3 sends one DeleteObjects
     * request (one DeleteObject each on a store without it); the default deletes one by one.
     */
    default void deleteObjects(java.util.List<String> keys) throws IOException {
        for (String k : keys) {
            deleteObject(k);
        }
    }

    /**
     * Streams every object under the prefix to {@code consumer}, page by page, without holding
     * the whole listing in memory. Metadata is not included.
     */
    void listObjects(Consumer<ObjectInfo> consumer) throws IOException;

    /**
     * Streams every object whose key starts with {@code subPrefix} (relative to the repository's
     * prefix). S3 lists them in key order, with their ETags; the default filters
     * {@link #listObjects(Consumer)} and knows no ETag.
     */
    default void listStored(String subPrefix, Consumer<StoredObject> consumer) throws IOException {
        listObjects(o -> {
            if (o.key().startsWith(subPrefix)) {
                consumer.accept(new StoredObject(o.key(), o.size(), null));
            }
        });
    }

    /**
     * As {@link #listObjects(Consumer)}, without the objects whose key starts with
     * {@code subPrefix} (the copies of media held in S3, which may be millions): S3 lists the
     * keys before them, then resumes after them ({@code start-after}). The default filters.
     *
     * @return whether any object under {@code subPrefix} was met (true also when that is not known)
     */
    default boolean listObjectsSkipping(String subPrefix, Consumer<ObjectInfo> consumer) throws IOException {
        boolean[] met = {false};
        listObjects(o -> {
            if (!o.key().startsWith(subPrefix)) {
                consumer.accept(o);
            } else {
                met[0] = true;
            }
        });
        return met[0];
    }

    /**
     * The distinct next path components below {@code subPrefix} (which ends with {@code /}),
     * each followed by {@code /}: S3's common prefixes with delimiter {@code /}. The default
     * derives them from {@link #listStored}.
     */
    default java.util.SortedSet<String> listDirectories(String subPrefix) throws IOException {
        java.util.SortedSet<String> dirs = new java.util.TreeSet<>();
        listStored(subPrefix, o -> {
            int slash = o.key().indexOf('/', subPrefix.length());
            if (slash > 0) {
                dirs.add(o.key().substring(subPrefix.length(), slash + 1));
            }
        });
        return dirs;
    }

    /**
     * Removes what interrupted writes left behind and nobody can still be writing: incomplete
     * multipart uploads (S3) or hidden temporary files (local) older than {@code olderThan}.
     *
     * @return how many leftovers were removed
     */
    int removeStaleUploads(java.time.Duration olderThan) throws IOException;

    /** Releases connections and threads. */
    @Override
    void close();
}
