package dev.synapsebackup.repository;

import java.time.Instant;
import java.util.Objects;

/**
 * One backup as the repository listing sees it, before anything is decrypted.
 *
 * @param id           the backup id (the data object's key)
 * @param lastModified when the data object was stored
 * @param size         size of the data object in bytes
 * @param status       whether it is complete, unfinished, or made by another tool
 * @param kind         {@code full} or {@code incremental} as the data object's metadata says, or null
 * @param parent       an incremental backup's parent, or null
 */
public record BackupEntry(String id, Instant lastModified, long size, Status status, String kind, String parent) {
    /** What the repository can tell about a data object without decrypting it. */
    public enum Status {
        /** Our backup with its manifest: the commit marker arrived. */
        COMPLETE,
        /** Our format marker but no manifest: a run died between the two writes. */
        UNFINISHED,
        /** No manifest and no marker: made by another tool, such as the Synapse charm. */
        FOREIGN
    }

    public BackupEntry {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(lastModified, "lastModified");
        Objects.requireNonNull(status, "status");
    }

    /** An entry whose kind and parent are not known. */
    public BackupEntry(String id, Instant lastModified, long size, Status status) {
        this(id, lastModified, size, status, null, null);
    }

    /** Whether {@code <id>.manifest} exists. */
    public boolean hasManifest() {
        return status == Status.COMPLETE;
    }
}
