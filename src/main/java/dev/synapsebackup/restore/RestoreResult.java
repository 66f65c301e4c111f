package dev.synapsebackup.restore;

import java.time.Duration;
import java.util.List;

/**
 * What a restore did (or, for a dry run, would do).
 *
 * @param backupId     the backup
 * @param mode         {@code live}, {@code target} or {@code dry-run}
 * @param fileCount    files restored (or verified, for a dry run)
 * @param fileBytes    their total size
 * @param storedBytes  bytes downloaded
 * @param duration     wall time
 * @param changes      one line per live path replaced or created (or that would be)
 * @param kept         previous data kept beside the live paths ({@code --keep-previous})
 * @param notes        things the admin should know (Synapse not started, files skipped at backup time)
 */
public record RestoreResult(String backupId, String mode, long fileCount, long fileBytes, long storedBytes,
                            Duration duration, List<String> changes, List<String> kept, List<String> notes) {
    /** Downloaded bytes per second, in MB/s (10^6). */
    public double throughputMBps() {
        return storedBytes / 1e6 / (Math.max(duration.toNanos(), 1) / 1e9);
    }
}
