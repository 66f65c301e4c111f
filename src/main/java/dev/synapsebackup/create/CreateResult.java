package dev.synapsebackup.create;

import dev.synapsebackup.manifest.ManifestSummary;
import java.time.Duration;
import java.util.List;

/**
 * What {@code create} made.
 *
 * @param backupId     the new backup's id
 * @param kind         {@code full} or {@code incremental}
 * @param parent       the parent of an incremental backup, else null
 * @param fileCount    files in the backup (for an incremental, all of them, wherever their bytes are)
 * @param sourceBytes  their total size
 * @param archivedFiles files whose bytes this backup's data object holds
 * @param archivedBytes their total size
 * @param storedBytes  size of the encrypted data object
 * @param database     how the database was captured: {@code archived} (in this backup's data
 *                     object), {@code identical} (a SQLite snapshot byte-identical to the
 *                     parent's, which holds it), {@code unchanged} (no snapshot made: by stat, the
 *                     SQLite files are as when the parent's snapshot began), or null (none)
 * @param skipped      files left out, with reasons
 * @param duration     wall time
 * @param media        media held in S3: what the backup lists and what this run copied
 */
public record CreateResult(String backupId, String kind, String parent, long fileCount, long sourceBytes,
                           long archivedFiles, long archivedBytes, long storedBytes, String database,
                           List<ManifestSummary.Skipped> skipped, Duration duration, Media media) {
    /**
     * Media held in S3 (synapse-s3-storage-provider).
     *
     * @param objects    objects the backup lists
     * @param bytes      their total size
     * @param serverSide objects this run copied server-side
     * @param streamed   objects this run streamed through the host
     */
    public record Media(long objects, long bytes, long serverSide, long streamed) {
        /** No media held in S3. */
        public static final Media NONE = new Media(0, 0, 0, 0);
    }

    /** A result without media held in S3. */
    public CreateResult(String backupId, String kind, String parent, long fileCount, long sourceBytes,
                        long archivedFiles, long archivedBytes, long storedBytes, String database,
                        List<ManifestSummary.Skipped> skipped, Duration duration) {
        this(backupId, kind, parent, fileCount, sourceBytes, archivedFiles, archivedBytes, storedBytes, database,
                skipped, duration, Media.NONE);
    }

    /** Archived source bytes per second, in MB/s (10^6). */
    public double throughputMBps() {
        double s = Math.max(duration.toNanos(), 1) / 1e9;
        return archivedBytes / 1e6 / s;
    }
}
