package dev.synapsebackup.backup;

import java.time.Duration;
import java.util.List;

/**
 * What {@code create} made.
 *
 * @param backupId     the new backup's id
 * @param kind         {@code full} or {@code incremental}
 * @param fileCount    files in the backup
 * @param sourceBytes  their total size
 * @param storedBytes  size of the encrypted data object
 * @param skipped      files left out, with reasons
 * @param duration     wall time
 */
public record CreateResult(String backupId, String kind, long fileCount, long sourceBytes, long storedBytes,
                           List<ManifestSummary.Skipped> skipped, Duration duration) {
    /** Source bytes per second, in MB/s (10^6). */
    public double throughputMBps() {
        double s = Math.max(duration.toNanos(), 1) / 1e9;
        return sourceBytes / 1e6 / s;
    }
}
