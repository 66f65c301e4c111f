package dev.synapsebackup.synapse;

import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

/**
 * One entry of the media walk: a regular file or a directory under one of the media roots, with
 * what one {@code lstat} said about it when the walk reached it (files may still change after).
 *
 * @param path         absolute path of the entry
 * @param directory    whether it is a directory (otherwise it is a regular file)
 * @param size         size in bytes
 * @param lastModified modification time
 * @param mode         permission bits with setuid, setgid and sticky ({@code 07777}), -1 where the
 *                     file system has no unix attributes
 * @param uid          owner, -1 where unknown
 * @param gid          group, -1 where unknown
 * @param ctime        status change time (any chmod, chown, rename, write), null where unknown
 */
public record MediaEntry(Path path, boolean directory, long size, FileTime lastModified, int mode, int uid,
                         int gid, FileTime ctime) {
    /** Whether the entry is a directory (otherwise it is a regular file). */
    public boolean isDirectory() {
        return directory;
    }
}
