package dev.synapsebackup.archive;

import java.time.Instant;
import java.util.Objects;

/**
 * One archived (or extracted) entry as the manifest records it.
 *
 * @param path tar entry name: the absolute path without its leading "/", as GNU tar writes it
 * @param size content size in bytes (0 for directories)
 * @param mtime modification time as stored in the archive
 * @param mode permission bits only (e.g. 0640), no file-type bits
 * @param uid numeric owner
 * @param gid numeric group
 * @param sha256 lower-case hex SHA-256 of the content; null for directories
 */
public record FileRecord(String path, long size, Instant mtime, int mode, int uid, int gid,
        String sha256) {
    public FileRecord {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(mtime, "mtime");
    }

    /** Whether this is a directory record (no content hash). */
    public boolean isDirectory() {
        return sha256 == null;
    }
}
