package dev.synapsebackup.manifest;

import java.time.Instant;

/**
 * A directory above a backup's roots, as the manifest records it (FORMAT.md §4,
 * {@code directories}): what a restore gives the directory when it has to create it.
 *
 * @param path  the directory's absolute path without the leading {@code /}, like a tar entry name
 * @param mode  permission bits, e.g. {@code 0750}
 * @param uid   owner's user id
 * @param gid   owner's group id
 * @param owner owner's user name, or null if the uid had none
 * @param group owner's group name, or null if the gid had none
 * @param mtime modification time
 */
public record ManifestDirectory(String path, int mode, int uid, int gid, String owner, String group, Instant mtime) {
    /** {@code owner:group (uid:gid), mode 0750}, for messages. */
    public String describe() {
        return (owner == null ? String.valueOf(uid) : owner) + ":" + (group == null ? String.valueOf(gid) : group)
                + " (" + uid + ":" + gid + "), mode " + Manifest.octal4(mode);
    }
}
