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
 * @param mediaObjects S3-held media copies checked (present, size, ETag)
 * @param mediaBytes   their total size
 * @param mediaHashed  how many of them were read back to check their SHA-256
 */
public record VerifyResult(String backupId, String mode, long fileCount, long fileBytes, long storedBytes,
                           Duration duration, List<String> problems, long problemCount, long mediaObjects,
                           long mediaBytes, long mediaHashed) {
    /** A result without S3-held media. */
    public VerifyResult(String backupId, String mode, long fileCount, long fileBytes, long storedBytes,
                        Duration duration, List<String> problems, long problemCount) {
        this(backupId, mode, fileCount, fileBytes, storedBytes, duration, problems, problemCount, 0, 0, 0);
    }

    /** Whether the backup is intact. */
    public boolean ok() {
        return problemCount == 0;
    }

    /** Downloaded bytes per second, in MB/s (10^6). */
    public double throughputMBps() {
        return storedBytes / 1e6 / (Math.max(duration.toNanos(), 1) / 1e9);
    }
}
