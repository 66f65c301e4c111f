package dev.synapsebackup.synapse;

import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * One entry of the media walk: a regular file or a directory under one of the media roots.
 *
 * @param path absolute path of the entry
 * @param attributes its attributes, read without following links when it was reached; a
 *     {@link java.nio.file.attribute.PosixFileAttributes} where the file system supports them
 */
public record MediaEntry(Path path, BasicFileAttributes attributes) {
    /** Whether the entry is a directory (otherwise it is a regular file). */
    public boolean isDirectory() {
        return attributes.isDirectory();
    }

    /** The size in bytes when the entry was reached (files may still change afterwards). */
    public long size() {
        return attributes.size();
    }
}
