package dev.synapsebackup.repository;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * One stored object: its key relative to the repository prefix, size, last-modified time and,
 * when the listing or a stat provided it, its user metadata (S3 {@code x-amz-meta-*}; a local
 * repository's sidecar).
 *
 * @param key          key relative to the prefix, never starting with {@code /}
 * @param size         size in bytes
 * @param lastModified when the object was last written
 * @param metadata     user metadata, lower-case names; empty when not known or none
 */
public record ObjectInfo(String key, long size, Instant lastModified, Map<String, String> metadata) {
    public ObjectInfo {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(lastModified, "lastModified");
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    }

    /** An object with no metadata known. */
    public ObjectInfo(String key, long size, Instant lastModified) {
        this(key, size, lastModified, Map.of());
    }
}
