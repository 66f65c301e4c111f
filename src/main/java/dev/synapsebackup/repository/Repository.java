package dev.synapsebackup.repository;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.RepositoryAccessException;
import java.util.List;

/**
 * Where backups are stored: an S3 bucket under a prefix, or a local directory. The object-level
 * operations ({@link ObjectStore}) are what each store implements; the backup-level ones declared
 * here ({@link #list()}, {@link #exists(String)}, {@link #delete(String)}) follow the repository
 * layout of SPEC §3 and are shared (see {@link AbstractRepository}).
 */
public interface Repository extends ObjectStore {

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
     * As {@link #listWithoutMetadata()}, with the count of other objects and whether there are
     * copies of S3-held media ({@link RepositoryListing}); the default cannot tell the latter.
     */
    default RepositoryListing listingWithoutMetadata() {
        return new RepositoryListing(listWithoutMetadata(), 0, List.of());
    }

    /**
     * Until when a backup is retained (S3 Object Lock): the later retain-until date of its data
     * object and its manifest, which may lie in the past; empty when neither has a retention.
     */
    default java.util.Optional<java.time.Instant> retainedUntil(String backupId) {
        return java.util.Optional.empty();
    }

    /**
     * Deletes a backup: its data object and its manifest.
     *
     * @throws BackupNotFoundException if there is no such backup
     */
    void delete(String backupId);

}
