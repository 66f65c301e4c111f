package dev.synapsebackup.restore;

import java.time.Duration;
import java.util.List;

/**
 * What {@code verify} found.
 *
 * @param backupId     the backup
 * @param mode         {@code manifest} (every file checked against the manifest) or {@code whole}
 *                     (no manifest: decrypted, MDC checked, tar read to its end)
 * @param fileCount    files checked
 * @param fileBytes    their total size
 * @param storedBytes  bytes downloaded
 * @param duration     wall time
 * @param problems     the first problems found (empty when ok)
 * @param problemCount how many problems in all
 */
public record VerifyResult(String backupId, String mode, long fileCount, long fileBytes, long storedBytes,
                           Duration duration, List<String> problems, long problemCount) {
    /** Whether the backup is intact. */
    public boolean ok() {
        return problemCount == 0;
    }

    /** Downloaded bytes per second, in MB/s (10^6). */
    public double throughputMBps() {
        return storedBytes / 1e6 / (Math.max(duration.toNanos(), 1) / 1e9);
    }
}
