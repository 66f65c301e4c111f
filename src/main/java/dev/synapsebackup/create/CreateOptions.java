package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.crypto.Recipients;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * What {@link SynapseBackup#create} needs besides the configuration.
 *
 * @param passphrase         the passphrase to encrypt with
 * @param includeRemoteMedia also back up {@code remote_content} and {@code remote_thumbnail}
 * @param tempDir            where to put the database snapshot and the manifest while they are made;
 *                           null for the system default
 * @param progress           progress listener
 * @param forceFull          make a full backup even if an incremental one could be made
 * @param fullEvery          make a full backup when the last one is older than this
 * @param newPassphrase      the passphrase changes on purpose: start a new full chain even if it does
 *                           not open the newest backup (without it, that is refused with exit 5); also
 *                           starts a new chain when the encryption scheme changes (passphrase to
 *                           recipients or back)
 * @param recipients         encrypt to these public keys instead of the passphrase (then null)
 * @param stateDirectory     with {@code recipients}: where the newest manifest is kept for the next
 *                           incremental (see {@link HostState}); null for the default
 */
public record CreateOptions(Secret passphrase, boolean includeRemoteMedia, Path tempDir, Progress progress,
                            boolean forceFull, Duration fullEvery, boolean newPassphrase, Recipients recipients,
                            Path stateDirectory) {
    /** Default of {@code full-every}. */
    public static final Duration DEFAULT_FULL_EVERY = Duration.ofDays(7);

    public CreateOptions {
        if ((passphrase == null) == (recipients == null)) {
            throw new IllegalArgumentException("exactly one of passphrase and recipients");
        }
        stateDirectory = stateDirectory == null ? ToolConfig.DEFAULT_STATE_DIRECTORY : stateDirectory;
        progress = progress == null ? Progress.NONE : progress;
        fullEvery = fullEvery == null ? DEFAULT_FULL_EVERY : fullEvery;
    }

    /** Options for the passphrase scheme. */
    public CreateOptions(Secret passphrase, boolean includeRemoteMedia, Path tempDir, Progress progress,
                         boolean forceFull, Duration fullEvery, boolean newPassphrase) {
        this(Objects.requireNonNull(passphrase, "passphrase"), includeRemoteMedia, tempDir, progress, forceFull,
                fullEvery, newPassphrase, null, null);
    }

    /** Options that keep the passphrase of the repository's newest backup. */
    public CreateOptions(Secret passphrase, boolean includeRemoteMedia, Path tempDir, Progress progress,
                         boolean forceFull, Duration fullEvery) {
        this(passphrase, includeRemoteMedia, tempDir, progress, forceFull, fullEvery, false);
    }

    /** Options for a backup that is incremental when it can be, with the default {@code full-every}. */
    public CreateOptions(Secret passphrase, boolean includeRemoteMedia, Path tempDir, Progress progress) {
        this(passphrase, includeRemoteMedia, tempDir, progress, false, DEFAULT_FULL_EVERY);
    }
}
