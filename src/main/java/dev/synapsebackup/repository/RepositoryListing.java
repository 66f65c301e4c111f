package dev.synapsebackup.repository;

import java.util.List;

/**
 * One listing of a repository: its backups, and how many other objects lie under the prefix
 * that are not backups (nested keys, other names; SPEC §3). Those are never deleted; they are
 * counted so that {@code prune} and {@code list} can say they were left alone.
 *
 * @param backups       the backups, oldest first
 * @param notBackups    how many objects under the prefix are neither a backup, a manifest nor a lock
 * @param notBackupKeys up to {@value #SAMPLE} of those keys, for messages
 * @param mediaCopies   whether the listing met copies of S3-held media under {@code media/}
 *                      (FORMAT.md §10), which it skips; true when it cannot tell
 */
public record RepositoryListing(List<BackupEntry> backups, long notBackups, List<String> notBackupKeys,
                                boolean mediaCopies) {
    /** How many keys of objects that are not backups a listing keeps as examples. */
    public static final int SAMPLE = 5;

    public RepositoryListing {
        backups = List.copyOf(backups);
        notBackupKeys = List.copyOf(notBackupKeys);
    }

    /** A listing that cannot tell whether there are media copies. */
    public RepositoryListing(List<BackupEntry> backups, long notBackups, List<String> notBackupKeys) {
        this(backups, notBackups, notBackupKeys, true);
    }
}
