package dev.synapsebackup.manifest;

import java.time.Instant;
import java.util.List;

/**
 * Everything a manifest says except the per-file list (which is streamed, never held in memory).
 *
 * @param format      manifest format version
 * @param backupId    the backup's id
 * @param created     creation time (UTC)
 * @param toolVersion version of synapse-backup that wrote it
 * @param serverName  Synapse's {@code server_name}
 * @param kind        {@code full} or {@code incremental}
 * @param parent      the parent backup of an incremental, else null
 * @param fullBackup  the full backup at the root of this backup's chain (itself for a full one)
 * @param roots       source roots by role: config, signing-key, database, media (absolute paths)
 * @param database    how the database was captured (engine, method, checks, schema version)
 * @param skipped     files left out, with the reason
 * @param fileCount   number of files in the backup
 * @param totalBytes  their total size
 * @param directories the directories above the roots with their owner and mode, outermost first
 *                    (empty in manifests written before they were recorded)
 * @param media       S3-held media: the stores and the totals of the {@code media-objects} records
 */
public record ManifestSummary(
        int format,
        String backupId,
        Instant created,
        String toolVersion,
        String serverName,
        String kind,
        String parent,
        String fullBackup,
        Roots roots,
        DatabaseRecord database,
        List<Skipped> skipped,
        long fileCount,
        long totalBytes,
        List<ManifestDirectory> directories,
        MediaSummary media) {

    public ManifestSummary {
        directories = directories == null ? List.of() : List.copyOf(directories);
        media = media == null ? MediaSummary.NONE : media;
    }

    /** A summary without S3-held media. */
    public ManifestSummary(int format, String backupId, Instant created, String toolVersion, String serverName,
                           String kind, String parent, String fullBackup, Roots roots,
                           DatabaseRecord database, List<Skipped> skipped, long fileCount, long totalBytes,
                           List<ManifestDirectory> directories) {
        this(format, backupId, created, toolVersion, serverName, kind, parent, fullBackup, roots, database, skipped,
                fileCount, totalBytes, directories, MediaSummary.NONE);
    }

    /** A summary without directory records (as manifests written before they existed). */
    public ManifestSummary(int format, String backupId, Instant created, String toolVersion, String serverName,
                           String kind, String parent, String fullBackup, Roots roots,
                           DatabaseRecord database, List<Skipped> skipped, long fileCount, long totalBytes) {
        this(format, backupId, created, toolVersion, serverName, kind, parent, fullBackup, roots, database, skipped,
                fileCount, totalBytes, List.of(), MediaSummary.NONE);
    }

    /** A file that was not backed up, and why. */
    public record Skipped(String path, String reason) {
    }
}
