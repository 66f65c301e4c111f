package dev.synapsebackup.repository;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.RepositoryAccessException;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Where backups are stored: an S3 bucket under a prefix, or a local directory. The object-level
 * operations are what each store implements; the backup-level ones ({@link #list()},
 * {@link #exists(String)}, {@link #delete(String)}) follow the repository layout of SPEC §3 and
 * are shared (see {@link AbstractRepository}).
 *
 * <p>All keys are relative to the repository's prefix.
 */
public interface Repository extends AutoCloseable {

    /** Human-readable location for messages: {@code s3://bucket/prefix} or the directory path. */
    String location();

    // ---- backup level (SPEC §3) ----

    /**
     * Whether the bucket (or directory) can be used. On failure the reason is logged; use
     * {@link #checkAccess()} to get it as an exception.
     */
    boolean canUseBucket();

    /**
     * Checks that the bucket (or directory) exists and can be read and written.
     *
     * @throws RepositoryAccessException naming the bucket or directory and the reason
     */
    void checkAccess();

    /** Whether a backup (data object) with this id exists. Errors other than "not found" throw. */
    boolean exists(String backupId);

    /** All backups, oldest first. */
    List<BackupEntry> list();

    /**
     * All backups, oldest first, and a count of the objects under the prefix that are not
     * backups (SPEC §3), from one listing. The default knows of no such objects.
     */
    default RepositoryListing listing() {
        return new RepositoryListing(list(), 0, List.of());
    }

    /**
     * All backups, oldest first, from the listing alone: {@link #list()} also looks up each data
     * object's metadata (one request per object on S3). Here kind and parent are null unless
     * the listing carried the metadata, and so a data object without manifest is reported
     * {@link BackupEntry.Status#FOREIGN} even when it is {@link BackupEntry.Status#UNFINISHED};
     * {@link BackupEntry.Status#COMPLETE} is exact. For runs that only need which backups are
     * complete and which data objects exist. The default is {@link #list()}.
     */
    default List<BackupEntry> listWithoutMetadata() {
        return list();
    }

    /**
     * Deletes a backup: its data object and its manifest.
     *
     * @throws BackupNotFoundException if there is no such backup
     */
    void delete(String backupId);

    // ---- object level ----

    /** Metadata of one object, or empty if it does not exist. */
    Optional<ObjectInfo> stat(String key) throws IOException;

    /**
     * Opens an object for streaming reading.
     *
     * @throws java.io.FileNotFoundException if it does not exist
     */
    InputStream open(String key) throws IOException;

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

    /** Deletes an object; a missing object is not an error. */
    void deleteObject(String key) throws IOException;

    /**
     * Streams every object under the prefix to {@code consumer}, page by page, without holding
     * the whole listing in memory. Metadata is not included.
     */
    void listObjects(Consumer<ObjectInfo> consumer) throws IOException;

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
