package dev.synapsebackup.manifest;

import java.time.Instant;

/**
 * One file in a backup, as its manifest records it.
 *
 * @param path   the tar entry name: the file's absolute path without the leading {@code /}
 * @param size   size in bytes
 * @param mtime  modification time
 * @param mode   permission bits, e.g. {@code 0640}
 * @param uid    owner's user id
 * @param gid    owner's group id
 * @param sha256 lower-case hex SHA-256 of the content
 * @param backup the id of the backup whose data object holds the bytes
 */
public record ManifestFile(String path, long size, Instant mtime, int mode, int uid, int gid, String sha256, String backup) {
}
